module libscim/examples/go

go 1.22

require libscim/bindings/go v0.0.0

replace libscim/bindings/go => ../../bindings/go
