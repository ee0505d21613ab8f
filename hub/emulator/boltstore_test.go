package emulator_test

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/hubdesk/hubdesk/hub/emulator"
	"github.com/hubdesk/hubdesk/hub/emulator/storetest"
)

func openBolt(t *testing.T, path string) emulator.Store {
	t.Helper()
	s, err := emulator.OpenBoltStore(path)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestBoltStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) emulator.Store {
		return openBolt(t, filepath.Join(t.TempDir(), "hub.db"))
	})
}

func TestBoltStoreReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hub.db")
	s := openBolt(t, path)
	want := map[string]string{"a": "1", "b/1": strings.Repeat("x", 5000), "empty": ""}
	if err := s.Update(func(tx emulator.Tx) error {
		for k, v := range want {
			if err := tx.Put([]byte(k), []byte(v)); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openBolt(t, path)
	defer s.Close()
	err := s.View(func(tx emulator.Tx) error {
		for k, v := range want {
			got := tx.Get([]byte(k))
			if got == nil || string(got) != v {
				t.Errorf("after reopen Get(%q) = %.20q (nil: %t), want %.20q", k, got, got == nil, v)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestBoltStoreFileInUse(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hub.db")
	s := openBolt(t, path)
	defer s.Close()

	start := time.Now()
	second, err := emulator.OpenBoltStore(path)
	if err == nil {
		second.Close()
		t.Fatal("second OpenBoltStore of an open file succeeded, want an error")
	}
	if !strings.Contains(err.Error(), "in use") {
		t.Errorf("second OpenBoltStore error %q does not say the file is in use", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("second OpenBoltStore took %s to fail", d)
	}
}

const (
	crashPathEnv   = "HUBDESK_CRASH_CHILD"
	crashPrefixEnv = "HUBDESK_CRASH_PREFIX"
	crashWriters   = 8
)

// TestBoltStoreCrashChild is the process TestBoltStoreSurvivesKill kills: it
// writes keys from several goroutines until it dies, printing each key once
// its Update has returned nil.
func TestBoltStoreCrashChild(t *testing.T) {
	path := os.Getenv(crashPathEnv)
	if path == "" {
		t.Skip("run by TestBoltStoreSurvivesKill")
	}
	s := openBolt(t, path)
	prefix := os.Getenv(crashPrefixEnv)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := range crashWriters {
		wg.Go(func() {
			for i := 0; ; i++ {
				key := fmt.Sprintf("%s/%d/%08d", prefix, w, i)
				err := s.Update(func(tx emulator.Tx) error {
					return tx.Put([]byte(key), []byte("value of "+key))
				})
				if err != nil {
					fmt.Fprintln(os.Stderr, "update:", err)
					os.Exit(2)
				}
				mu.Lock()
				// One write per line: a pipe write of under 4 KiB is atomic.
				os.Stdout.WriteString(key + "\n")
				mu.Unlock()
			}
		})
	}
	wg.Wait()
}

// TestBoltStoreSurvivesKill kills a writing process with SIGKILL and checks
// that every write it acknowledged is in the store, which opens cleanly and
// passes bbolt's consistency check. HUBDESK_CRASH_ROUNDS sets the rounds.
func TestBoltStoreSurvivesKill(t *testing.T) {
	rounds := 5
	if v := os.Getenv("HUBDESK_CRASH_ROUNDS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			t.Fatalf("HUBDESK_CRASH_ROUNDS: %v", err)
		}
		rounds = n
	}
	path := filepath.Join(t.TempDir(), "hub.db")
	for r := range rounds {
		prefix := fmt.Sprintf("r%03d", r)
		acked := runCrashChild(t, path, prefix, 200+100*(r%4))
		t.Logf("round %d: %d writes acknowledged before and around the kill", r, len(acked))

		s := openBolt(t, path)
		perWriter := make([]int, crashWriters)
		err := s.View(func(tx emulator.Tx) error {
			for _, key := range acked {
				if got := tx.Get([]byte(key)); string(got) != "value of "+key {
					t.Errorf("round %d: acknowledged %s reads %q after kill -9", r, key, got)
				}
			}
			return tx.Ascend([]byte(prefix+"/"), nil, func(k, v []byte) bool {
				w, _ := strconv.Atoi(strings.Split(string(k), "/")[1])
				perWriter[w]++
				return true
			})
		})
		if err != nil {
			t.Fatal(err)
		}
		ackedPerWriter := make([]int, crashWriters)
		for _, key := range acked {
			w, _ := strconv.Atoi(strings.Split(key, "/")[1])
			ackedPerWriter[w]++
		}
		for w := range crashWriters {
			// At most the one Update in flight at the kill may be there
			// without its acknowledgement.
			if perWriter[w] < ackedPerWriter[w] || perWriter[w] > ackedPerWriter[w]+1 {
				t.Errorf("round %d, writer %d: %d keys stored, %d acknowledged", r, w, perWriter[w], ackedPerWriter[w])
			}
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		checkBolt(t, path)
		if t.Failed() {
			return
		}
	}
}

// runCrashChild runs TestBoltStoreCrashChild, kills it with SIGKILL after
// kill acknowledgements and returns every key it acknowledged.
func runCrashChild(t *testing.T, path, prefix string, kill int) []string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestBoltStoreCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashPathEnv+"="+path, crashPrefixEnv+"="+prefix)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	watchdog := time.AfterFunc(30*time.Second, func() { cmd.Process.Kill() })
	defer watchdog.Stop()

	var acked []string
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, prefix+"/") {
			continue // the test framework's own output
		}
		acked = append(acked, line)
		if len(acked) == kill {
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
		}
	}
	// The lines still in the pipe after the kill were acknowledged too.
	err = cmd.Wait()
	if len(acked) < kill {
		t.Fatalf("child stopped after %d acknowledgements (%v): %s", len(acked), err, stderr.String())
	}
	return acked
}

// checkBolt runs bbolt's own consistency check on the file at path.
func checkBolt(t *testing.T, path string) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second, ReadOnly: true})
	if err != nil {
		t.Fatalf("bbolt open after crash: %v", err)
	}
	defer db.Close()
	err = db.View(func(tx *bolt.Tx) error {
		for err := range tx.Check() {
			t.Errorf("bbolt check: %v", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// BenchmarkAscendDeep reads a page of 100 keys at the start, middle and end
// of 1,000 and of 1,000,000 keys: a deep page should cost what the first does.
func BenchmarkAscendDeep(b *testing.B) {
	key := func(i int) []byte { return fmt.Appendf(nil, "d/%08d", i) }
	for _, n := range []int{1_000, 1_000_000} {
		for _, kind := range []string{"memory", "bolt"} {
			b.Run(fmt.Sprintf("%s/keys=%d", kind, n), func(b *testing.B) {
				if n > 1_000 && testing.Short() {
					b.Skip("builds a store of a million keys")
				}
				var s emulator.Store
				if kind == "memory" {
					s = emulator.NewMemoryStore()
				} else {
					var err error
					if s, err = emulator.OpenBoltStore(filepath.Join(b.TempDir(), "hub.db")); err != nil {
						b.Fatal(err)
					}
				}
				defer s.Close()
				val := bytes.Repeat([]byte("v"), 100)
				for start := 0; start < n; start += 100_000 {
					err := s.Update(func(tx emulator.Tx) error {
						for i := start; i < min(start+100_000, n); i++ {
							if err := tx.Put(key(i), val); err != nil {
								return err
							}
						}
						return nil
					})
					if err != nil {
						b.Fatal(err)
					}
				}
				pages := []struct {
					name  string
					after []byte
				}{
					{"first", nil},
					{"middle", key(n / 2)},
					{"last", key(n - 101)},
				}
				for _, page := range pages {
					b.Run(page.name, func(b *testing.B) {
						for b.Loop() {
							got := 0
							err := s.View(func(tx emulator.Tx) error {
								return tx.Ascend([]byte("d/"), page.after, func(k, v []byte) bool {
									got++
									return got < 100
								})
							})
							if err != nil || got != 100 {
								b.Fatalf("page of %d keys, %v", got, err)
							}
						}
					})
				}
			})
		}
	}
}
