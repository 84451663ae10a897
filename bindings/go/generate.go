package scim

// The library this package links lives in its own tree, in lib/ (not committed):
// libscim.a, libscim.so and scim.h. `go generate` in this directory builds them from the
// libscim sources around it (cargo build --release --lib) and copies them there, so the
// module needs nothing outside its directory to build: another module requires it by
// its path with a replace to this directory (see README.md).
//
//go:generate go run ./internal/buildlib
