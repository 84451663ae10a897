// Command buildlib is the `go generate` step of package scim: it builds libscim with
// cargo and puts what cgo needs into the package's lib/ directory: the static library,
// the shared library (with its soname link) and the C header.
//
// It runs in the package directory (as go generate does) and finds the libscim sources
// above it, or at $LIBSCIM_SRC. $CARGO names the cargo to run. The copies of the
// libraries are stripped of debug information when `strip` is on the PATH (the release
// profile keeps line tables, most of the archive's size); LIBSCIM_STRIP=0 keeps it.
package main

import (
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "buildlib:", err)
		os.Exit(1)
	}
}

func run() error {
	pkg, err := os.Getwd()
	if err != nil {
		return err
	}
	root, err := sources(pkg)
	if err != nil {
		return err
	}
	cargo := os.Getenv("CARGO")
	if cargo == "" {
		cargo = "cargo"
	}
	build := exec.Command(cargo, "build", "--release", "--lib", "--manifest-path", filepath.Join(root, "Cargo.toml"))
	// From the checkout: its .cargo/config.toml (the SQLite compile flags) applies.
	build.Dir = root
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	fmt.Fprintln(os.Stderr, "buildlib:", build.String())
	if err := build.Run(); err != nil {
		return err
	}
	target := os.Getenv("CARGO_TARGET_DIR")
	if target == "" {
		target = filepath.Join(root, "target")
	}
	release := filepath.Join(target, "release")
	lib := filepath.Join(pkg, "lib")
	if err := os.MkdirAll(lib, 0o755); err != nil {
		return err
	}
	shared := "libscim.so"
	if runtime.GOOS == "darwin" {
		shared = "libscim.dylib"
	}
	for _, f := range []struct {
		from, to string
		strip    bool
	}{
		{filepath.Join(release, "libscim.a"), filepath.Join(lib, "libscim.a"), true},
		{filepath.Join(release, shared), filepath.Join(lib, shared), true},
		{filepath.Join(root, "include", "scim.h"), filepath.Join(lib, "scim.h"), false},
	} {
		if err := install(f.from, f.to, f.strip); err != nil {
			return err
		}
	}
	if runtime.GOOS == "linux" {
		// The shared library's soname (build.rs: libscim.so.<major>) is what a program
		// linked with -tags libscim_shared looks for at run time.
		soname, err := sonameOf(filepath.Join(lib, shared))
		if err != nil {
			return err
		}
		link := filepath.Join(lib, soname)
		_ = os.Remove(link)
		if err := os.Symlink("libscim.so", link); err != nil {
			return err
		}
	}
	fmt.Fprintln(os.Stderr, "buildlib: libscim built into", lib)
	return nil
}

// sources finds the libscim repository: $LIBSCIM_SRC, else the first directory above the
// package with Cargo.toml and include/scim.h.
func sources(pkg string) (string, error) {
	if src := os.Getenv("LIBSCIM_SRC"); src != "" {
		return filepath.Abs(src)
	}
	for dir := pkg; ; {
		if isFile(filepath.Join(dir, "Cargo.toml")) && isFile(filepath.Join(dir, "include", "scim.h")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no libscim sources above " + pkg + " (set LIBSCIM_SRC)")
		}
		dir = parent
	}
}

func isFile(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}

// install copies from to a temporary file beside to, strips it when asked, then renames
// it over to: a build that reads lib/ meanwhile sees the old file or the new one.
func install(from, to string, strip bool) error {
	src, err := os.Open(from)
	if err != nil {
		return err
	}
	defer src.Close()
	tmp := to + ".tmp"
	dst, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		return err
	}
	if err := dst.Close(); err != nil {
		return err
	}
	if strip && os.Getenv("LIBSCIM_STRIP") != "0" {
		if tool, err := exec.LookPath("strip"); err == nil && runtime.GOOS == "linux" {
			cmd := exec.Command(tool, "--strip-debug", tmp)
			cmd.Stderr = os.Stderr
			if err := cmd.Run(); err != nil {
				return fmt.Errorf("%s: %w", cmd.String(), err)
			}
		}
	}
	return os.Rename(tmp, to)
}

// sonameOf reads a shared library's DT_SONAME.
func sonameOf(path string) (string, error) {
	f, err := elf.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	names, err := f.DynString(elf.DT_SONAME)
	if err != nil {
		return "", err
	}
	if len(names) != 1 {
		return "", fmt.Errorf("%s: %d sonames", path, len(names))
	}
	return names[0], nil
}
