package main

import (
	"math/rand"
	"sync"
	_ "unsafe" // go:linkname

	_ "go.etcd.io/etcd/raft"
)

// lockedRand has the layout of raft.go's unexported lockedRand (a mutex and a *rand.Rand): the
// generator every raft in the process draws its randomized election timeout from.
type lockedRand struct {
	mu   sync.Mutex
	rand *rand.Rand
}

// globalRand is raft.go's package-level generator, seeded there from the wall clock. The library
// offers no way to seed it; this is its patchable surface, reached by name.
//
//go:linkname globalRand go.etcd.io/etcd/raft.globalRand
var globalRand *lockedRand

// drawFrom makes the library draw from r until the next call.
func drawFrom(r *rand.Rand) {
	globalRand.mu.Lock()
	globalRand.rand = r
	globalRand.mu.Unlock()
}
