package main

import (
	"context"
	"encoding/base64"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/hubdesk/hubdesk/hub/emulator"
)

// runEmulator serves the IoT Hub emulator alone and prints its iothubowner
// connection string on a line of its own.
func runEmulator(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("hubdesk emulator", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", envOr(getenv, "HUBDESK_EMULATOR_ADDR", "127.0.0.1:8081"), "listen address (HUBDESK_EMULATOR_ADDR)")
	data := fs.String("data", getenv("HUBDESK_EMULATOR_DATA"), "data directory; empty keeps the hub in memory (HUBDESK_EMULATOR_DATA)")
	key := fs.String("key", "", "iothubowner key, base64 of 16 to 64 bytes (HUBDESK_EMULATOR_KEY or _FILE); random and kept in the data dir if empty")
	host := fs.String("hostname", getenv("HUBDESK_EMULATOR_HOSTNAME"), "host name in the printed connection string, e.g. emulator:8081 (default: the listen address)")
	seed := fs.Int("seed-demo", 0, "seed that many demo devices into an empty hub")
	simulate := fs.Bool("simulate", false, "let demo devices report properties every few seconds")
	tlsCert := fs.String("tls-cert", "", "TLS certificate file (serve HTTPS)")
	tlsKey := fs.String("tls-key", "", "TLS private key file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *key == "" {
		k, err := envDefault(setting{env: "HUBDESK_EMULATOR_KEY", secret: true}, getenv)
		if err != nil {
			return err
		}
		*key = k
	}
	if *key != "" {
		if b, err := base64.StdEncoding.DecodeString(*key); err != nil || len(b) < 16 || len(b) > 64 {
			return fmt.Errorf("key: want base64 of 16 to 64 bytes")
		}
	}
	if (*tlsCert == "") != (*tlsKey == "") {
		return fmt.Errorf("tls-cert and tls-key: give both or neither")
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", *addr, err)
	}
	hostName := *host
	if hostName == "" {
		hostName = displayAddr(ln.Addr())
	}
	emu, err := emulator.New(emulator.Options{
		DataDir:  *data,
		HostName: hostName,
		OwnerKey: *key,
		SeedDemo: *seed,
		Simulate: *simulate,
		Logger:   newLogger("text", "info", stderr),
	})
	if err != nil {
		ln.Close()
		return err
	}
	defer emu.Close()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok\n") })
	mux.Handle("/", emu)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second}
	fmt.Fprintln(stdout, emu.ConnectionString(hostName))
	scheme := "http"
	if *tlsCert != "" {
		scheme = "https"
	}
	fmt.Fprintf(stderr, "hubdesk emulator: serving %s://%s (data: %s)\n", scheme, displayAddr(ln.Addr()), orMemory(*data))
	errc := make(chan error, 1)
	go func() {
		if *tlsCert != "" {
			errc <- srv.ServeTLS(ln, *tlsCert, *tlsKey)
		} else {
			errc <- srv.Serve(ln)
		}
	}()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}

func orMemory(dir string) string {
	if dir == "" {
		return "in memory"
	}
	return dir
}

func envOr(getenv func(string) string, name, def string) string {
	if v := getenv(name); v != "" {
		return v
	}
	return def
}

// runHealthcheck exits non-zero unless the server answers /healthz: the
// container image's HEALTHCHECK, which has no curl.
func runHealthcheck(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	fs := flag.NewFlagSet("hubdesk healthcheck", flag.ContinueOnError)
	addr := envOr(getenv, "HUBDESK_ADDR", "127.0.0.1:8080")
	if host, port, err := net.SplitHostPort(addr); err == nil {
		if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
			addr = net.JoinHostPort("127.0.0.1", port)
		}
	}
	url := fs.String("url", "http://"+addr+"/healthz", "URL to check")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, *url, nil)
	if err != nil {
		return err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck: %s answered %s", *url, res.Status)
	}
	fmt.Fprintln(stdout, "healthy")
	return nil
}
