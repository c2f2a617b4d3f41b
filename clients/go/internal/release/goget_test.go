package release

import (
	"archive/zip"
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// version is the version the test publishes; any valid one works (the module cache the
// test fills is its own).
const version = "v0.1.0"

func TestGoGetOfATaggedSubModule(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the module and its dependencies in a new module cache (about a minute)")
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	module := modulePath(t, filepath.Join(root, "go.mod"))
	files := trackedFiles(t, root)
	dir := t.TempDir()
	proxy := filepath.Join(dir, "proxy")
	publish(t, proxy, root, module, files)

	cache := goEnv(t, "GOMODCACHE")
	upstream := goEnv(t, "GOPROXY")
	env := append(os.Environ(),
		// Our module from the test's proxy; its dependencies from the module cache this
		// machine already has, else from the configured proxy.
		"GOPROXY=file://"+filepath.ToSlash(proxy)+",file://"+filepath.ToSlash(filepath.Join(cache, "cache", "download"))+","+upstream,
		"GOMODCACHE="+filepath.Join(dir, "modcache"),
		"GOBIN="+filepath.Join(dir, "bin"),
		// The test's module is not in the checksum database; the dependencies are checked
		// against the client's own go.sum (copied below).
		"GONOSUMDB="+module,
		"GOFLAGS=-mod=mod",
		"GOTOOLCHAIN=local",
		"GOWORK=off",
	)
	t.Cleanup(func() { // the module cache is read-only: let go remove it
		clean := exec.Command("go", "clean", "-modcache")
		clean.Env = env
		if out, err := clean.CombinedOutput(); err != nil {
			t.Errorf("go clean -modcache: %v\n%s", err, out)
		}
	})

	consumer := filepath.Join(dir, "consumer")
	write(t, filepath.Join(consumer, "go.mod"), "module example.com/consumer\n\ngo 1.25.0\n")
	sum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(consumer, "go.sum"), string(sum))
	write(t, filepath.Join(consumer, "main.go"), `package main

import (
	"fmt"

	reboundv1 "`+module+`/gen/rebound/v1"
	"`+module+`/rebound"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func main() {
	err := status.Error(codes.NotFound, "command_id: no such command")
	fmt.Println(rebound.Explain(rebound.DefaultAddress, reboundv1.ClientCommandService_GetCommand_FullMethodName, err))
}
`)
	run(t, consumer, env, "go", "get", module+"@"+version)
	if got := run(t, consumer, env, "go", "list", "-m", module); strings.TrimSpace(got) != module+" "+version {
		t.Errorf("go list -m: %q, want %s %s", got, module, version)
	}
	out := run(t, consumer, env, "go", "run", ".")
	if want := "/rebound.v1.ClientCommandService/GetCommand failed: NOT_FOUND: command_id: no such command"; strings.TrimSpace(out) != want {
		t.Errorf("the program printed %q, want %q", out, want)
	}
	run(t, consumer, env, "go", "install", module+"/cmd/rebound-health@"+version)
	if _, err := os.Stat(filepath.Join(dir, "bin", "rebound-health")); err != nil {
		t.Errorf("go install did not produce rebound-health: %v", err)
	}
}

// publish writes the proxy's files for module@version: list, .info, .mod and the zip of
// files (paths relative to root).
func publish(t *testing.T, proxy, root, module string, files []string) {
	at := filepath.Join(proxy, escape(module), "@v")
	write(t, filepath.Join(at, "list"), version+"\n")
	write(t, filepath.Join(at, version+".info"), fmt.Sprintf(`{"Version":%q,"Time":"2026-01-01T00:00:00Z"}`, version))
	mod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(at, version+".mod"), string(mod))

	out, err := os.Create(filepath.Join(at, version+".zip"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	archive := zip.NewWriter(out)
	for _, name := range files {
		data, err := os.ReadFile(filepath.Join(root, name))
		if err != nil {
			t.Fatal(err)
		}
		w, err := archive.Create(module + "@" + version + "/" + name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(data); err != nil {
			t.Fatal(err)
		}
	}
	if err := archive.Close(); err != nil {
		t.Fatal(err)
	}
}

// trackedFiles lists the files git tracks under root (what a tag of the repository holds
// there), leaving out what a module zip excludes: vendor/ and nested modules.
func trackedFiles(t *testing.T, root string) []string {
	cmd := exec.Command("git", "ls-files", "-z", "--", ".")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		t.Skipf("not in a git work tree (%v): the files of a tag are unknown", err)
	}
	var nested []string
	var files []string
	for _, name := range strings.Split(strings.TrimRight(string(out), "\x00"), "\x00") {
		if name != "go.mod" && filepath.Base(name) == "go.mod" {
			nested = append(nested, filepath.Dir(name)+"/")
		}
		if _, err := os.Stat(filepath.Join(root, name)); err == nil {
			files = append(files, name) // a tracked file deleted in the work tree is left out
		}
	}
	kept := files[:0]
	for _, name := range files {
		skip := strings.HasPrefix(name, "vendor/") || strings.Contains(name, "/vendor/")
		for _, dir := range nested {
			skip = skip || strings.HasPrefix(name, dir)
		}
		if !skip {
			kept = append(kept, name)
		}
	}
	if len(kept) == 0 {
		t.Fatal("git tracks no files of the module")
	}
	return kept
}

// modulePath is the module path declared in go.mod.
func modulePath(t *testing.T, gomod string) string {
	f, err := os.Open(gomod)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	lines := bufio.NewScanner(f)
	for lines.Scan() {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(lines.Text()), "module "); ok {
			return strings.Trim(strings.TrimSpace(rest), `"`)
		}
	}
	t.Fatalf("%s: no module line", gomod)
	return ""
}

// escape is the proxy protocol's case encoding of a module path ("!" before a lower-cased
// upper-case letter).
func escape(path string) string {
	var b strings.Builder
	for _, r := range path {
		if r >= 'A' && r <= 'Z' {
			b.WriteByte('!')
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}

func goEnv(t *testing.T, name string) string {
	out, err := exec.Command("go", "env", name).Output()
	if err != nil {
		t.Fatalf("go env %s: %v", name, err)
	}
	return strings.TrimSpace(string(out))
}

// run runs a command in dir and returns its stdout (its stderr, e.g. "go: downloading",
// is shown only when it fails).
func run(t *testing.T, dir string, env []string, name string, args ...string) string {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = env
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s%s", name, strings.Join(args, " "), err, out, stderr.String())
	}
	return string(out)
}

func write(t *testing.T, path, content string) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
