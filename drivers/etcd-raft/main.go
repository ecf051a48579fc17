// Command etcd-raft-driver serves etcd's Raft library (go.etcd.io/etcd/raft, etcd 3.4 as Debian
// packages it) over meshcheck's driver protocol (docs/driver-protocol.md): JSON lines on stdin and
// stdout, one cluster of RawNodes at a time, stepped only by meshcheck's deterministic simulator.
//
// What a node is here (docs/etcd-raft.md has the whole mapping):
//
//   - a raft.RawNode over a raft.MemoryStorage, started from the same base snapshot at index 1
//     (term 1, every node a voter), so that no configuration change goes through the log;
//   - its Ready loop after every event: the hard state and the new entries written durably (the
//     write-ahead rule: meshcheck keeps them before the messages leave), the messages sent,
//     committed entries applied to a small key-value state machine, then Advance;
//   - time: one timer, "tick", every TickMillis of the simulator's milliseconds, each a
//     RawNode.Tick (election after 15 to 30 ticks, a heartbeat every 5: 150-300 ms and 50 ms);
//   - randomness: the library draws its election timeouts from a package-level generator
//     (raft.go globalRand); before any call into a node, the driver points it at that node's own
//     generator, seeded from `boot`, so that a run replays (the one use of the library's
//     unexported surface: see rand.go);
//   - clients: a write is proposed as a log entry at the leader and answered when the proposing
//     node applies it, a read is a ReadIndex at the leader; any other node answers "not leader"
//     with its leader's name;
//   - options: the library's defaults, or with `--pre-vote` and `--check-quorum` its
//     Config.PreVote and Config.CheckQuorum.
//
// Each event is named as a step of specs/RaftEtcd.tla and each send given as the spec's message
// (spec.go), so that a run's NDJSON log is validated against the spec. The driver takes no spec
// action alone (`take` is false): runs are free runs under meshcheck's faults, judged by the
// invariants on the nodes' state, by the clients' history and by the logs' validation.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"os"
)

// bugs a driver can be started with (`--bug NAME`), each a way a host of the library goes wrong,
// so that meshcheck's checks are seen to catch it (tests/test_etcd_raft.py):
//
//   - reads-anywhere: any node answers a read from its own state machine at once, with no
//     ReadIndex round through the leader (a stale read, which etcd's serializable reads allow and
//     its linearizable reads do not);
//   - vote-not-durable: the hard state is written without its vote (a host that keeps the vote in
//     memory only): a node restarted in the term it voted in may vote again.
var knownBugs = map[string]bool{"reads-anywhere": true, "vote-not-durable": true}

func main() {
	bugs := map[string]bool{}
	d := newDriver()
	for k := 1; k < len(os.Args); k++ {
		switch os.Args[k] {
		case "--pre-vote": // the library's Config.PreVote (thesis 9.6)
			d.preVote = true
			continue
		case "--check-quorum": // the library's Config.CheckQuorum (thesis 6.2, 4.2.3)
			d.checkQuorum = true
			continue
		}
		if os.Args[k] != "--bug" || k+1 == len(os.Args) {
			fmt.Fprintf(os.Stderr, "usage: etcd-raft-driver [--pre-vote] [--check-quorum] [--bug NAME]... (not %q)\n", os.Args[k])
			os.Exit(2)
		}
		k++
		if !knownBugs[os.Args[k]] {
			fmt.Fprintf(os.Stderr, "etcd-raft-driver: no bug %q (reads-anywhere, vote-not-durable)\n", os.Args[k])
			os.Exit(2)
		}
		bugs[os.Args[k]] = true
	}
	in := bufio.NewReader(os.Stdin)
	out := bufio.NewWriter(os.Stdout)
	d.bugs = bugs
	for {
		line, err := in.ReadBytes('\n')
		if len(line) > 0 {
			answer := d.handle(line)
			encoded, mErr := json.Marshal(answer)
			if mErr != nil {
				encoded, _ = json.Marshal(map[string]any{"error": "cannot encode the answer: " + mErr.Error()})
			}
			out.Write(encoded)
			out.WriteByte('\n')
			out.Flush()
		}
		if err == io.EOF {
			return
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "etcd-raft-driver: reading stdin:", err)
			os.Exit(1)
		}
	}
}

func init() {
	log.SetOutput(os.Stderr)
}
