module libscim/bindings/go

go 1.22
