package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"math/rand"
	"sort"
	"strings"

	"go.etcd.io/etcd/raft"
	pb "go.etcd.io/etcd/raft/raftpb"
)

const (
	// TickMillis is how often a node's RawNode ticks, in the simulator's milliseconds.
	TickMillis = 10
	// ElectionTicks and HeartbeatTicks: an election timeout of 150-300 ms (the library draws it
	// between one and two ElectionTicks) and a heartbeat every 50 ms, the design's figures.
	ElectionTicks  = 15
	HeartbeatTicks = 5
	// BaseIndex is the index of the base snapshot every node starts from: the configuration, no
	// state. The first entry of the log is BaseIndex+1.
	BaseIndex = 1
	tickTimer = "tick"
)

var quiet = &raft.DefaultLogger{Logger: log.New(io.Discard, "", 0)}

// proposal is what a log entry carries: a client's operation, the node that proposed it and the
// request it answers there.
type proposal struct {
	Node    string `json:"node"`
	Request int64  `json:"request"`
	Value   any    `json:"value"`
}

// done is what one request made a node do (docs/driver-protocol.md, "What a node did").
type done struct {
	Writes  []map[string]any `json:"writes,omitempty"`
	Sends   []map[string]any `json:"sends,omitempty"`
	Applied [][3]any         `json:"applied,omitempty"`
	Replies []map[string]any `json:"replies,omitempty"`
	Timers  [][2]any         `json:"timers,omitempty"`
	Steps   []map[string]any `json:"steps,omitempty"`
}

// handling names, for the trace, the receipt of a message of the library's type t where no spec
// action maps it (spec.go's handlerOf maps the rest).
var handling = map[pb.MessageType]string{
	pb.MsgVote:           "HandleRequestVoteRequest",
	pb.MsgPreVote:        "HandleRequestVoteRequest",
	pb.MsgVoteResp:       "HandleRequestVoteResponse",
	pb.MsgPreVoteResp:    "HandleRequestVoteResponse",
	pb.MsgApp:            "HandleAppendEntriesRequest",
	pb.MsgHeartbeat:      "HandleAppendEntriesRequest",
	pb.MsgSnap:           "HandleAppendEntriesRequest",
	pb.MsgAppResp:        "HandleAppendEntriesResponse",
	pb.MsgHeartbeatResp:  "HandleAppendEntriesResponse",
	pb.MsgReadIndex:      "HandleReadIndex",
	pb.MsgReadIndexResp:  "HandleReadIndexResponse",
	pb.MsgProp:           "ClientRequest",
	pb.MsgTimeoutNow:     "Timeout",
	pb.MsgTransferLeader: "TransferLeader",
}

type node struct {
	name         string
	id           uint64
	c            *cluster
	rng          *rand.Rand
	storage      *raft.MemoryStorage
	rn           *raft.RawNode
	machine      *machine
	pending      map[int64]bool    // requests proposed here, answered when applied here
	reads        map[string]any    // read request (its ReadIndex context) -> the query
	readAt       map[string]uint64 // read request -> the index the leader confirmed
	appliedIndex uint64
	sent         []pb.Message // this event's sends, in order (spec.go maps them)
	answering    *pb.Message  // the message this event delivers, if any
}

// baseSnapshot is the state every node starts from: index 1, term 1, every node a voter.
func (c *cluster) baseSnapshot() pb.Snapshot {
	voters := make([]uint64, 0, len(c.names))
	for k := range c.names {
		voters = append(voters, uint64(k+1))
	}
	return pb.Snapshot{Metadata: pb.SnapshotMetadata{
		Index: BaseIndex, Term: 1, ConfState: pb.ConfState{Voters: voters},
	}}
}

// bootNode makes a node from what it persisted: the hard state ("hard") and the log's entries
// after the base snapshot ("log").
func (c *cluster) bootNode(name string, persisted map[string]any, seed int64) (*node, error) {
	n := &node{
		name: name, id: c.ids[name], c: c, rng: rand.New(rand.NewSource(seed)),
		storage: raft.NewMemoryStorage(), machine: newMachine(),
		pending: map[int64]bool{}, reads: map[string]any{}, readAt: map[string]uint64{},
		appliedIndex: BaseIndex,
	}
	if err := n.storage.ApplySnapshot(c.baseSnapshot()); err != nil {
		return nil, err
	}
	if held, found := persisted["log"].(map[string]any); found {
		items, _ := held["items"].([]any)
		entries := make([]pb.Entry, 0, len(items))
		for k, item := range items {
			e, err := decodeEntry(item)
			if err != nil {
				return nil, fmt.Errorf("persisted.log item %d: %v", k, err)
			}
			entries = append(entries, e)
		}
		if err := n.storage.Append(entries); err != nil {
			return nil, fmt.Errorf("persisted.log: %v", err)
		}
	}
	if held, found := persisted["hard"].(map[string]any); found {
		var hs pb.HardState
		if err := remarshal(held["value"], &hs); err != nil {
			return nil, fmt.Errorf("persisted.hard: %v", err)
		}
		if err := n.storage.SetHardState(hs); err != nil {
			return nil, fmt.Errorf("persisted.hard: %v", err)
		}
	}
	drawFrom(n.rng)
	rn, err := raft.NewRawNode(&raft.Config{
		ID: n.id, ElectionTick: ElectionTicks, HeartbeatTick: HeartbeatTicks,
		Storage: n.storage, MaxSizePerMsg: 1 << 20, MaxInflightMsgs: 256, Logger: quiet,
		// ReadOnlySafe reads; pre-vote and check-quorum off (the library's defaults) unless asked
		PreVote: c.preVote, CheckQuorum: c.checkQuorum,
	})
	if err != nil {
		return nil, err
	}
	n.rn = rn
	return n, nil
}

// Every message, entry and hard state crosses as the library's own protobuf bytes in base64 (an
// opaque value to meshcheck), or as JSON of the protobuf struct for what meshcheck stores.

func encodeMessage(m pb.Message) (string, error) {
	b, err := m.Marshal()
	return base64.StdEncoding.EncodeToString(b), err
}

// decodeMessage reads a message as a send carries it (spec.go's `sent`: base64, "|", a number).
func decodeMessage(v any) (pb.Message, error) {
	var m pb.Message
	if s, isString := v.(string); isString {
		if bar := strings.IndexByte(s, '|'); bar >= 0 {
			v = s[:bar]
		}
	}
	err := decodeBase64(v, "a message", &m)
	return m, err
}

func encodeEntry(e pb.Entry) string {
	b, _ := e.Marshal()
	return base64.StdEncoding.EncodeToString(b)
}

func decodeEntry(v any) (pb.Entry, error) {
	var e pb.Entry
	err := decodeBase64(v, "an entry", &e)
	return e, err
}

// unmarshaler is what the library's generated protobuf types have (pb.Message, pb.Entry).
type unmarshaler interface{ Unmarshal([]byte) error }

// decodeBase64 reads v, a base64 string of a protobuf's bytes, into `into`. The value is returned
// after the call, in its own statement: in `return m, m.Unmarshal(b)` Go leaves unspecified whether
// m is read before or after the call changes it.
func decodeBase64(v any, what string, into unmarshaler) error {
	s, isString := v.(string)
	if !isString {
		return fmt.Errorf("%s is a base64 string, not %T", what, v)
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return err
	}
	return into.Unmarshal(b)
}

func remarshal(from any, to any) error {
	b, err := json.Marshal(from)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, to)
}

// -- events -------------------------------------------------------------------------------------

func (n *node) boot(restarted bool) (*done, error) {
	n.sent = nil
	d := &done{Timers: [][2]any{{tickTimer, TickMillis}}}
	err := n.ready(d)
	if restarted {
		n.specSteps(d, "RestartKeepingCommit", true, map[string]any{"i": n.name}, nil, "")
	}
	return d, err
}

func (n *node) fire(timer string) (*done, error) {
	if timer != tickTimer {
		return nil, fmt.Errorf("no timer %q (this driver sets %q only)", timer, tickTimer)
	}
	was := n.before()
	n.sent = nil
	drawFrom(n.rng)
	n.rn.Tick()
	d := &done{Timers: [][2]any{{tickTimer, TickMillis}}}
	err := n.ready(d)
	params := map[string]any{"i": n.name}
	now := n.rn.Status()
	switch {
	case n.sentAny(pb.MsgPreVote): // an election timeout with pre-vote: a pre-election
		n.specSteps(d, "PreVoteTimeout", true, params, nil, "")
	case now.Term > was.term: // an election timeout: a campaign in the next term
		n.specSteps(d, "Timeout", true, params, nil, "")
	case was.role == raft.StateLeader && now.RaftState == raft.StateFollower:
		n.specSteps(d, "LeaderStepDown", true, params, nil, "") // check-quorum: no quorum heard from
	default: // a tick that changes no spec variable; a leader's heartbeats are steps of their own
		n.specSteps(d, "Tick", false, params, nil, "")
	}
	return d, err
}

func (n *node) deliver(source string, message any) (*done, error) {
	m, err := decodeMessage(message)
	if err != nil {
		return nil, fmt.Errorf("message from %s: %v", source, err)
	}
	if m.From != n.c.ids[source] || m.To != n.id {
		return nil, fmt.Errorf("message %v from %d to %d delivered from %s to %s", m.Type, m.From, m.To, source, n.name)
	}
	was := n.before()
	n.sent, n.answering = nil, &m
	defer func() { n.answering = nil }()
	drawFrom(n.rng)
	_ = n.rn.Step(m) // a message of an old term or a peer it does not know: refused, no step
	d := &done{}
	err = n.ready(d)
	params := map[string]any{"i": n.name, "j": source}
	encoded, _ := message.(string)
	spec := n.c.received(encoded)
	if action := n.handlerOf(m, spec, was); action != "" {
		n.specSteps(d, action, true, params, spec, source)
	} else {
		action, known := handling[m.Type]
		if !known {
			action = "Handle" + m.Type.String()
		}
		n.specSteps(d, action, false, params, nil, source)
	}
	return d, err
}

func (n *node) submit(request int64, value any, read bool) (*done, error) {
	d := &done{}
	if read && n.c.bugs["reads-anywhere"] {
		d.Replies = append(d.Replies, map[string]any{
			"request": request, "result": n.machine.read(value), "error": "", "leader": nil, "unknown": false,
		})
		d.Steps = append(d.Steps, map[string]any{
			"action": "ClientRead", "params": map[string]any{"i": n.name}, "sends": []int{}, "in_spec": false,
		})
		return d, nil
	}
	status := n.rn.Status()
	if status.RaftState != raft.StateLeader {
		var leader any
		if status.Lead != raft.None {
			leader = n.c.names[status.Lead-1]
		}
		d.Replies = append(d.Replies, map[string]any{
			"request": request, "result": nil, "error": "not leader", "leader": leader, "unknown": false,
		})
		return d, nil
	}
	n.sent = nil
	drawFrom(n.rng)
	if read {
		ctx := fmt.Sprintf("%s/%d", n.name, request)
		n.reads[ctx] = value
		n.rn.ReadIndex([]byte(ctx))
	} else {
		data, err := json.Marshal(proposal{Node: n.name, Request: request, Value: value})
		if err != nil {
			return nil, err
		}
		if err := n.rn.Propose(data); err != nil {
			d.Replies = append(d.Replies, map[string]any{
				"request": request, "result": nil, "error": err.Error(), "leader": nil, "unknown": false,
			})
			return d, nil
		}
		n.pending[request] = true
	}
	err := n.ready(d)
	if read { // ReadIndex: its heartbeats are steps; the read itself no spec action
		n.specSteps(d, "ClientRead", false, map[string]any{"i": n.name}, nil, "")
	} else {
		n.specSteps(d, "ClientRequest", true, map[string]any{"i": n.name, "v": value}, nil, "")
	}
	return d, err
}

// ready runs the Ready loop until the node has nothing more to do: persist, send, apply, advance.
func (n *node) ready(d *done) error {
	for n.rn.HasReady() {
		rd := n.rn.Ready()
		if !raft.IsEmptyHardState(rd.HardState) {
			if err := n.storage.SetHardState(rd.HardState); err != nil {
				return err
			}
			hard := map[string]any{"term": rd.HardState.Term, "vote": rd.HardState.Vote, "commit": rd.HardState.Commit}
			if n.c.bugs["vote-not-durable"] {
				hard["vote"] = raft.None
			}
			d.Writes = append(d.Writes, map[string]any{"put": "hard", "value": hard})
		}
		if len(rd.Entries) > 0 {
			if err := n.storage.Append(rd.Entries); err != nil {
				return err
			}
			items := make([]any, len(rd.Entries))
			for k, e := range rd.Entries {
				items[k] = encodeEntry(e)
			}
			start := rd.Entries[0].Index - BaseIndex - 1
			d.Writes = append(d.Writes, map[string]any{"splice": "log", "start": start, "items": items})
		}
		if !raft.IsEmptySnap(rd.Snapshot) {
			return fmt.Errorf("a snapshot to install at index %d: this driver never compacts, so none is sent", rd.Snapshot.Metadata.Index)
		}
		for _, m := range rd.Messages {
			encoded, err := encodeMessage(m)
			if err != nil {
				return err
			}
			d.Sends = append(d.Sends, map[string]any{
				"to": n.c.names[m.To-1], "message": n.c.sent(encoded, n.specOf(m)), "record": messageRecord(n.c, m),
			})
			n.sent = append(n.sent, m)
		}
		for _, rs := range rd.ReadStates {
			n.readAt[string(rs.RequestCtx)] = rs.Index
		}
		for _, e := range rd.CommittedEntries {
			n.apply(e, d)
		}
		n.answerReads(d)
		n.rn.Advance(rd)
	}
	return nil
}

func (n *node) apply(e pb.Entry, d *done) {
	n.appliedIndex = e.Index
	if e.Type != pb.EntryNormal {
		return // no configuration change is ever proposed
	}
	if len(e.Data) == 0 { // a new leader's empty entry: the no-op
		d.Applied = append(d.Applied, [3]any{e.Index - BaseIndex, "NoOp", n.machine.apply(nil)})
		return
	}
	var p proposal
	if err := json.Unmarshal(e.Data, &p); err != nil {
		d.Applied = append(d.Applied, [3]any{e.Index - BaseIndex, base64.StdEncoding.EncodeToString(e.Data), n.machine.apply(e.Data)})
		return
	}
	result := n.machine.apply(normalize(p.Value))
	d.Applied = append(d.Applied, [3]any{e.Index - BaseIndex, p.Value, result})
	if p.Node == n.name && n.pending[p.Request] {
		delete(n.pending, p.Request)
		d.Replies = append(d.Replies, map[string]any{
			"request": p.Request, "result": result, "error": "", "leader": nil, "unknown": false,
		})
	}
}

// answerReads answers each read whose confirmed index the machine has reached, in the order the
// reads came (a Go map's order changes from run to run, and a run must replay).
func (n *node) answerReads(d *done) {
	ready := []int64{}
	for ctx, at := range n.readAt {
		if at <= n.appliedIndex {
			var request int64
			fmt.Sscanf(ctx[len(n.name)+1:], "%d", &request)
			ready = append(ready, request)
		}
	}
	sort.Slice(ready, func(a, b int) bool { return ready[a] < ready[b] })
	for _, request := range ready {
		ctx := fmt.Sprintf("%s/%d", n.name, request)
		d.Replies = append(d.Replies, map[string]any{
			"request": request, "result": n.machine.read(normalize(n.reads[ctx])), "error": "", "leader": nil, "unknown": false,
		})
		delete(n.readAt, ctx)
		delete(n.reads, ctx)
	}
}

// normalize turns json.Number leaves into what the machine compares ("", strings, numbers as
// written).
func normalize(v any) any { return v }

// state is the node's part of Raft.tla's variables, as far as the library shows them: its term,
// role, commit index and log (an entry's value the client's operation, or "NoOp"), indexes
// counted from the base snapshot (the spec's log starts empty where the library's starts after
// index 1).
func (n *node) state() map[string]any {
	status := n.rn.Status()
	role := map[raft.StateType]string{
		raft.StateFollower: "Follower", raft.StateCandidate: "Candidate",
		raft.StateLeader: "Leader", raft.StatePreCandidate: "PreCandidate",
	}[status.RaftState]
	last, _ := n.storage.LastIndex()
	entries, _ := n.storage.Entries(BaseIndex+1, last+1, 1<<62)
	logged := make([]any, 0, len(entries))
	for _, e := range entries {
		logged = append(logged, entryValue(e))
	}
	votedFor := "None"
	if status.Vote != raft.None {
		votedFor = n.c.names[status.Vote-1]
	}
	return map[string]any{
		"currentTerm": status.Term,
		"votedFor":    votedFor,
		"role":        role,
		"commitIndex": status.Commit - BaseIndex,
		"log":         logged,
		// the base snapshot is below the spec's log, and the driver never compacts
		"snapshotIndex": 0,
		"snapshotTerm":  0,
	}
}

// messageRecord is a message as a record for meshcheck's traces: the library's type and the
// fields Raft.tla's messages share (no spec validation yet: docs/etcd-raft.md).
func messageRecord(c *cluster, m pb.Message) map[string]any {
	return map[string]any{
		"mtype": m.Type.String(), "msource": c.names[m.From-1], "mdest": c.names[m.To-1], "mterm": m.Term,
	}
}
