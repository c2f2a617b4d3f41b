// Package release holds no code: its test proves that the module can be fetched the way
// users get it, as the sub-module clients/go of the repository at a tag clients/go/vX.Y.Z.
//
// The test packs the module's committed files into a module zip, serves it from a
// file-based GOPROXY, and in a new module runs `go get` and `go install` of it at that
// version, then builds and runs a program that imports it. It needs the git work tree
// (the files a tag would hold come from `git ls-files`) and the go command.
package release
