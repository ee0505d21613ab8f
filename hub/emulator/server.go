package emulator

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/hubdesk/hubdesk/hub"
)

// Server is an Emulator listening on a local address, for tests and for
// running the hub locally.
type Server struct {
	emu      *Emulator
	srv      *http.Server
	ln       net.Listener
	url      string
	hostName string
	done     chan error

	closeOnce sync.Once
	closeErr  error
}

// NewServer starts an Emulator configured by opts on opts.Addr (default
// 127.0.0.1:0, a free port), serving HTTPS when opts has a certificate.
// Its HostName defaults to the listening address (host:port), so
// connection strings name it directly.
func NewServer(opts Options) (*Server, error) {
	addr := opts.Addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("emulator: listen: %w", err)
	}
	if opts.HostName == "" {
		opts.HostName = ln.Addr().String()
	}
	emu, err := New(opts)
	if err != nil {
		ln.Close()
		return nil, err
	}
	s := &Server{
		emu:      emu,
		ln:       ln,
		hostName: opts.HostName,
		srv:      &http.Server{Handler: emu, ReadHeaderTimeout: 10 * time.Second},
		done:     make(chan error, 1),
	}
	scheme := "http"
	if opts.TLSCertFile != "" && opts.TLSKeyFile != "" {
		cert, err := tls.LoadX509KeyPair(opts.TLSCertFile, opts.TLSKeyFile)
		if err != nil {
			ln.Close()
			emu.Close()
			return nil, fmt.Errorf("emulator: TLS certificate: %w", err)
		}
		s.ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
		scheme = "https"
	}
	s.url = scheme + "://" + ln.Addr().String()
	go func() {
		err := s.srv.Serve(s.ln)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		s.done <- err
	}()
	return s, nil
}

// URL is the server's base URL, such as http://127.0.0.1:41234.
func (s *Server) URL() string { return s.url }

// HostName is the hub host name used in connection strings and tokens.
func (s *Server) HostName() string { return s.hostName }

// ConnectionString is the iothubowner connection string of the hub.
func (s *Server) ConnectionString() string { return s.emu.ConnectionString(s.hostName) }

// Emulator is the handler the server runs.
func (s *Server) Emulator() *Emulator { return s.emu }

// Client returns a hub client with iothubowner rights pointed at the
// server. It panics if the client cannot be built, which would be a bug.
func (s *Server) Client(opts ...hub.Option) *hub.Client {
	opts = append([]hub.Option{hub.WithBaseURL(s.url)}, opts...)
	c, err := hub.New(s.ConnectionString(), opts...)
	if err != nil {
		panic(fmt.Sprintf("emulator: client for %s: %v", s.url, err))
	}
	return c
}

// Close stops serving, waits for requests in flight for up to two seconds,
// and closes the Emulator. Later calls return the first one's result.
func (s *Server) Close() error {
	s.closeOnce.Do(func() { s.closeErr = s.close() })
	return s.closeErr
}

func (s *Server) close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err := s.srv.Shutdown(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		// Connections a client dialled but never used count as busy for
		// five seconds; a test hub has no reason to wait for them.
		err = s.srv.Close()
	}
	if serr := <-s.done; err == nil {
		err = serr
	}
	if cerr := s.emu.Close(); err == nil {
		err = cerr
	}
	return err
}
