// Package testserver runs a real `rebound serve` for the module's tests: a free port, a
// temp dir, and a wait (with a deadline, never a fixed sleep) until it reports SERVING.
//
// The binary is $REBOUND_BIN (scripts/test.sh sets it), else target/debug/rebound of the
// repository that holds this module (../../target/debug/rebound from clients/go).
package testserver

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// Deadline bounds starting and stopping.
const Deadline = 30 * time.Second

// Server is a running rebound process.
type Server struct {
	t        testing.TB
	cmd      *exec.Cmd
	Dir      string
	Port     int
	UnixPath string
	log      string
	done     chan struct{}
	waitErr  error
}

// Binary locates the rebound binary or fails the test.
func Binary(t testing.TB) string {
	if bin := os.Getenv("REBOUND_BIN"); bin != "" {
		return bin
	}
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for ; dir != filepath.Dir(dir); dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			bin := filepath.Join(dir, "../../target/debug/rebound")
			if _, err := os.Stat(bin); err != nil {
				t.Fatalf("%s: %v (run cargo build, or set REBOUND_BIN)", bin, err)
			}
			return bin
		}
	}
	t.Fatal("go.mod not found above the working directory; set REBOUND_BIN")
	return ""
}

// Start runs a server (with a unix socket listener too) and waits until it serves. It is
// killed when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	return StartIn(t, t.TempDir(), "")
}

// StartIn runs a server like Start in dir (where the test put the files extra refers to),
// with extra appended to its config (e.g. [server.tls] and [auth] sections). Readiness is
// asked over the unix socket with grpc.health.v1, which stays plain and open whatever TLS
// and authentication the TCP listener has.
func StartIn(t testing.TB, dir, extra string) *Server {
	t.Helper()
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := listener.Addr().(*net.TCPAddr).Port
	listener.Close()
	s := &Server{t: t, Dir: dir, Port: port, UnixPath: filepath.Join(dir, "rebound.sock"), log: filepath.Join(dir, "server.log")}
	// http_listen off: parallel test servers must not meet on its default port.
	config := fmt.Sprintf("version = 1\n[server]\nlisten = %q\nhttp_listen = \"\"\nunix_socket = %q\ndrain_timeout = \"10s\"\n%s", s.Addr(), s.UnixPath, extra)
	if err := os.WriteFile(filepath.Join(dir, "rebound.toml"), []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	logFile, err := os.Create(s.log)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	s.cmd = exec.Command(Binary(t), "serve", "--config", "rebound.toml")
	s.cmd.Dir = dir
	s.cmd.Stderr = logFile
	s.cmd.Env = append(os.Environ(), "RUST_LOG=info")
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s.done = make(chan struct{})
	go func() { s.waitErr = s.cmd.Wait(); close(s.done) }()
	t.Cleanup(func() {
		_ = s.cmd.Process.Kill()
		<-s.done
		if t.Failed() {
			t.Logf("server log:\n%s", s.Logs())
		}
	})
	s.waitServing()
	return s
}

// Addr is the TCP address (host:port).
func (s *Server) Addr() string { return fmt.Sprintf("127.0.0.1:%d", s.Port) }

// UnixAddr is the unix socket address (unix:PATH).
func (s *Server) UnixAddr() string { return "unix:" + s.UnixPath }

// Pid is the server's process id.
func (s *Server) Pid() int { return s.cmd.Process.Pid }

// Logs is what the server wrote to stderr so far.
func (s *Server) Logs() string {
	data, _ := os.ReadFile(s.log)
	return string(data)
}

// Signal sends sig (e.g. syscall.SIGTERM) to the server.
func (s *Server) Signal(sig syscall.Signal) error { return s.cmd.Process.Signal(sig) }

func (s *Server) waitServing() {
	s.t.Helper()
	conn, err := grpc.NewClient(s.UnixAddr(), grpc.WithAuthority("localhost"), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		s.t.Fatal(err)
	}
	defer conn.Close()
	health := healthpb.NewHealthClient(conn)
	deadline := time.Now().Add(Deadline)
	for {
		select {
		case <-s.done:
			s.t.Fatalf("rebound exited early (%v):\n%s", s.waitErr, s.Logs())
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		report, err := health.Check(ctx, &healthpb.HealthCheckRequest{})
		cancel()
		if err == nil && report.GetStatus() == healthpb.HealthCheckResponse_SERVING {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("rebound on %s not serving after %v (last error: %v):\n%s", s.Addr(), Deadline, err, s.Logs())
		}
		time.Sleep(20 * time.Millisecond)
	}
}
