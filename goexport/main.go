// Command goexport is torchwave's C ABI, built with -buildmode=c-shared.
// Python calls it through ctypes with raw pointers to tensors it owns.
// Every entry point validates its arguments, recovers panics, and returns
// a status code with a message in the caller's buffer; it never exits or
// crashes the host process.
//
// abi.go holds what every entry point shares (versions, threads, guard,
// dtype dispatch), layout.go describes the argument structs, and each
// propagator or feature has its own file: scalar.go, born.go,
// boundary.go, maxwell.go, codec.go, optim.go.
package main

func main() {}
