package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// These tests keep the Dockerfile and docker-compose.yml honest on machines
// without a Docker engine: what can be checked by reading is checked here.

func readFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// buildCommand is how the release binary is built, in .ci/run and the Dockerfile alike.
const buildCommand = `CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o`

func TestDockerfile(t *testing.T) {
	df := readFile(t, "Dockerfile")
	froms := regexp.MustCompile(`(?m)^FROM\s+(\S+)`).FindAllStringSubmatch(df, -1)
	if len(froms) < 2 {
		t.Fatalf("want a multi-stage build, got %d FROM lines", len(froms))
	}
	for _, f := range froms {
		img := f[1]
		if !strings.Contains(img, ":") || strings.HasSuffix(img, ":latest") {
			t.Errorf("image %s is not pinned to a version", img)
		}
	}
	if rt := froms[len(froms)-1][1]; !strings.Contains(rt, "distroless") || !strings.Contains(rt, "nonroot") {
		t.Errorf("runtime image %s: want distroless nonroot", rt)
	}
	for _, want := range []string{
		"COPY go.mod go.sum ./\nRUN go mod download",
		buildCommand,
		"USER 65532:65532",
		`VOLUME ["/data"]`,
		`HEALTHCHECK`,
		`"healthcheck"]`,
	} {
		if !strings.Contains(df, want) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
	if ci := readFile(t, ".ci/run"); !strings.Contains(ci, buildCommand) {
		t.Errorf(".ci/run does not build the binary the way the Dockerfile does (%s)", buildCommand)
	}
	// The smoke run in the build must pass with the real binary.
	var out bytes.Buffer
	if err := run(context.Background(), []string{"help"}, func(string) string { return "" }, &out, io.Discard); err != nil || !strings.Contains(out.String(), "hubdesk emulator") {
		t.Errorf("hubdesk help: %v %q", err, out.String())
	}
}

type composeFile struct {
	Services map[string]struct {
		Image       string            `yaml:"image"`
		Build       any               `yaml:"build"`
		Command     []string          `yaml:"command"`
		Environment map[string]string `yaml:"environment"`
		DependsOn   map[string]struct {
			Condition string `yaml:"condition"`
		} `yaml:"depends_on"`
		Healthcheck struct {
			Test []string `yaml:"test"`
		} `yaml:"healthcheck"`
		Secrets []string `yaml:"secrets"`
		Volumes []string `yaml:"volumes"`
		Ports   []string `yaml:"ports"`
	} `yaml:"services"`
	Volumes map[string]any `yaml:"volumes"`
	Secrets map[string]struct {
		File string `yaml:"file"`
	} `yaml:"secrets"`
}

func TestCompose(t *testing.T) {
	var cf composeFile
	if err := yaml.Unmarshal([]byte(readFile(t, "docker-compose.yml")), &cf); err != nil {
		t.Fatal(err)
	}
	dash, ok := cf.Services["dashboard"]
	if !ok {
		t.Fatal("no dashboard service")
	}
	emu, ok := cf.Services["emulator"]
	if !ok {
		t.Fatal("no emulator service")
	}
	if dash.DependsOn["emulator"].Condition != "service_healthy" {
		t.Error("dashboard must wait for a healthy emulator")
	}
	if len(emu.Command) == 0 || emu.Command[0] != "emulator" {
		t.Errorf("emulator command = %v", emu.Command)
	}
	known := map[string]bool{"HUBDESK_EMULATOR_KEY": true}
	for _, s := range settings {
		known[s.env] = true
	}
	for name, svc := range cf.Services {
		if len(svc.Healthcheck.Test) < 3 || svc.Healthcheck.Test[1] != "/usr/local/bin/hubdesk" || svc.Healthcheck.Test[2] != "healthcheck" {
			t.Errorf("%s: healthcheck %v must run the binary's healthcheck subcommand", name, svc.Healthcheck.Test)
		}
		for env := range svc.Environment {
			base := strings.TrimSuffix(env, "_FILE")
			if !known[base] {
				t.Errorf("%s: environment %s is not a setting of hubdesk", name, env)
			}
			if base != env {
				secret := slices.ContainsFunc(settings, func(s setting) bool { return s.env == base && s.secret }) || base == "HUBDESK_EMULATOR_KEY"
				if !secret {
					t.Errorf("%s: %s is not read from a file", name, env)
				}
			}
		}
		for _, s := range svc.Secrets {
			if _, ok := cf.Secrets[s]; !ok {
				t.Errorf("%s: secret %s is not declared", name, s)
			}
		}
		for _, v := range svc.Volumes {
			vol, _, _ := strings.Cut(v, ":")
			if _, ok := cf.Volumes[vol]; !ok {
				t.Errorf("%s: volume %s is not a named volume", name, vol)
			}
		}
	}
	if dash.Environment["HUBDESK_ADDR"] != "0.0.0.0:8080" || !slices.Contains(dash.Ports, "8080:8080") {
		t.Errorf("dashboard must listen on 0.0.0.0:8080 and publish it: %v %v", dash.Environment["HUBDESK_ADDR"], dash.Ports)
	}
	if !strings.Contains(strings.Join(emu.Command, " "), "--addr 0.0.0.0:8081") || !strings.HasSuffix(dash.Environment["HUBDESK_HUB_URL"], ":8081") {
		t.Error("dashboard's HUBDESK_HUB_URL must point at the emulator's port")
	}
}

// TestComposeReplicas checks the override that runs several dashboard
// replicas behind Caddy on one PostgreSQL database.
func TestComposeReplicas(t *testing.T) {
	var base, over composeFile
	for name, cf := range map[string]*composeFile{"docker-compose.yml": &base, "docker-compose.replicas.yml": &over} {
		if err := yaml.Unmarshal([]byte(readFile(t, name)), cf); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	for _, cf := range []composeFile{base, over} {
		for name, svc := range cf.Services {
			if svc.Image == "" {
				continue
			}
			_, tag, ok := strings.Cut(svc.Image, ":")
			if svc.Build == nil && (!ok || tag == "latest") {
				t.Errorf("%s: image %s is not pinned to a version", name, svc.Image)
			}
		}
	}
	dash, proxy := over.Services["dashboard"], over.Services["proxy"]
	if len(dash.Ports) != 0 || len(dash.Volumes) != 0 {
		t.Errorf("replicas must not publish a port or share a data volume: ports %v volumes %v", dash.Ports, dash.Volumes)
	}
	if dash.DependsOn["postgres"].Condition != "service_healthy" || proxy.DependsOn["dashboard"].Condition != "service_healthy" {
		t.Error("replicas must wait for a healthy database and the proxy for healthy replicas")
	}
	if dash.Environment["HUBDESK_DATABASE_URL_FILE"] == "" {
		t.Error("replicas must share a database: HUBDESK_DATABASE_URL_FILE is not set")
	}
	known := map[string]bool{}
	for _, s := range settings {
		known[s.env] = true
	}
	for env := range dash.Environment {
		if !known[strings.TrimSuffix(env, "_FILE")] {
			t.Errorf("dashboard: environment %s is not a setting of hubdesk", env)
		}
	}
	for name, svc := range over.Services {
		for _, s := range svc.Secrets {
			if _, ok := over.Secrets[s]; !ok {
				if _, ok := base.Secrets[s]; !ok {
					t.Errorf("%s: secret %s is not declared", name, s)
				}
			}
		}
	}
	if !slices.Contains(proxy.Ports, "8080:8080") {
		t.Errorf("the proxy must publish 8080: %v", proxy.Ports)
	}
	caddyfile := ""
	for _, v := range proxy.Volumes {
		if src, dst, _ := strings.Cut(v, ":"); strings.HasPrefix(dst, "/etc/caddy/Caddyfile") {
			caddyfile = readFile(t, src)
		}
	}
	_, port, _ := strings.Cut(base.Services["dashboard"].Environment["HUBDESK_ADDR"], ":")
	for _, want := range []string{"name dashboard", "port " + port, ":8080 {"} {
		if !strings.Contains(caddyfile, want) {
			t.Errorf("Caddyfile lacks %q", want)
		}
	}
}

func TestREADMEConfigurationTableListsEverySetting(t *testing.T) {
	readme := readFile(t, "README.md")
	for _, s := range settings {
		if !strings.Contains(readme, "`"+s.env+"`") || !strings.Contains(readme, "`-"+s.flag+"`") {
			t.Errorf("README's configuration table lacks %s / -%s", s.env, s.flag)
		}
	}
}
