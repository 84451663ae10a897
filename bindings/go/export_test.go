package scim

// LiveLogHandles is how many log functions the library holds through a cgo.Handle.
func LiveLogHandles() int64 { return liveLogHandles.Load() }
