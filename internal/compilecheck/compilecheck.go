// Package compilecheck asserts, in tests, what the compiler accepts and what
// it refuses: that a misuse of an API is a compile error rather than a
// runtime surprise.
package compilecheck

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// Marker ends each line of a "wrong" package that must not compile.
const Marker = "// want error"

// Run builds, with the go command, the packages in the directories ok and
// wrong (relative to the test's directory, usually under testdata). Every
// file of ok must compile. Every line of wrong's files that ends with Marker
// must be a compile error, and no other line may be one. The build runs
// offline (GOPROXY=off): the module's dependencies are already in the module
// cache when its tests run.
func Run(t *testing.T, ok, wrong string) {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to check what compiles: %v", err)
	}
	want, err := markedLines(wrong)
	if err != nil {
		t.Fatal(err)
	}
	if len(want) == 0 {
		t.Fatalf("%s: no line is marked %q", wrong, Marker)
	}
	// -gcflags=-e: report every error, not the first ten.
	cmd := exec.Command(goTool, "build", "-gcflags=-e", "./"+filepath.ToSlash(ok), "./"+filepath.ToSlash(wrong))
	cmd.Env = append(os.Environ(), "GOPROXY=off")
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("%s compiled; every line marked %q should not", wrong, Marker)
	}
	// Errors read "path/file.go:line:col: message".
	re := regexp.MustCompile(`(?m)^(\S+\.go):(\d+):\d+: (.*)$`)
	got := map[string]string{}
	for _, m := range re.FindAllStringSubmatch(string(out), -1) {
		file := filepath.Clean(filepath.FromSlash(m[1]))
		if !strings.HasPrefix(file, filepath.Clean(wrong)+string(filepath.Separator)) {
			t.Errorf("unexpected error outside %s: %s", wrong, m[0])
			continue
		}
		got[file+":"+m[2]] = m[3]
	}
	if len(got) == 0 {
		t.Fatalf("the build failed without a compile error in %s:\n%s", wrong, out)
	}
	for pos := range want {
		if _, ok := got[pos]; !ok {
			t.Errorf("%s compiled, but is marked %q", pos, Marker)
		}
	}
	for pos, msg := range got {
		if !want[pos] {
			t.Errorf("%s: unexpected error: %s", pos, msg)
		}
	}
}

// markedLines returns "file:line" for the lines of dir's Go files that end
// with Marker.
func markedLines(dir string) (map[string]bool, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		return nil, err
	}
	want := map[string]bool{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		sc := bufio.NewScanner(bytes.NewReader(data))
		for n := 1; sc.Scan(); n++ {
			if strings.HasSuffix(strings.TrimSpace(sc.Text()), Marker) {
				want[fmt.Sprintf("%s:%s", filepath.Clean(f), strconv.Itoa(n))] = true
			}
		}
		if err := sc.Err(); err != nil {
			return nil, err
		}
	}
	return want, nil
}
