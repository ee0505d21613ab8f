// Command hubdesk is a web dashboard for Azure IoT Hub device identities and
// module twins, and a local IoT Hub emulator.
//
//	hubdesk               serve the dashboard (on an embedded emulator unless
//	                      IOTHUB_CONNECTION_STRING is set)
//	hubdesk emulator      serve the emulator alone
//	hubdesk healthcheck   exit 0 if the server at HUBDESK_ADDR is healthy
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "hubdesk:", err)
		os.Exit(1)
	}
}

// run is the whole program: it returns when ctx is cancelled (after a
// graceful shutdown) or when start-up fails.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		switch args[0] {
		case "emulator":
			return runEmulator(ctx, args[1:], getenv, stdout, stderr)
		case "bench":
			return runBench(ctx, args[1:], stdout, stderr)
		case "users":
			return runUsers(ctx, args[1:], getenv, os.Stdin, stdout, stderr)
		case "healthcheck":
			return runHealthcheck(ctx, args[1:], getenv, stdout)
		case "serve":
			args = args[1:]
		case "help", "-h", "-help", "--help":
			fmt.Fprint(stdout, helpText)
			return nil
		}
	}
	cfg, err := parseConfig(args, getenv)
	if err != nil {
		return err
	}
	return serve(ctx, cfg, stdout, stderr)
}

const helpText = `hubdesk: a web dashboard for Azure IoT Hub device identities and module twins.

  hubdesk [flags]              serve the dashboard (flags: hubdesk -h lists them)
  hubdesk emulator [flags]     serve a local IoT Hub emulator alone
  hubdesk users COMMAND        manage accounts: list, add, set-role, disable, enable, reset-password
  hubdesk bench [flags]        run the benchmarks side by side and print a table
  hubdesk healthcheck          exit 0 if the dashboard at HUBDESK_ADDR answers /healthz

Every flag also reads an environment variable; see README.md.
`
