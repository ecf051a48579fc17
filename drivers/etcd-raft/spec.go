package main

// The refinement mapping of the library's transitions onto specs/RaftEtcd.tla (docs/etcd-raft.md,
// "Trace validation"): which spec action each event is, which of its sends each action owns, and
// each send as the spec's message. Indexes and terms are the spec's: counted from the base
// snapshot (the library's index less BaseIndex), the base snapshot's term 0, as the spec's empty
// log has.

import (
	"encoding/json"
	"fmt"

	"go.etcd.io/etcd/raft"
	pb "go.etcd.io/etcd/raft/raftpb"
	"go.etcd.io/etcd/raft/tracker"
)

// before is what the mapping needs of a node as it was before an event.
type before struct {
	term, vote, lead, commit uint64
	role                     raft.StateType
}

func (n *node) before() before {
	s := n.rn.Status()
	return before{term: s.Term, vote: s.Vote, lead: s.Lead, commit: s.Commit, role: s.RaftState}
}

// specIndex is the spec's index of the library's index i.
func specIndex(i uint64) uint64 {
	if i < BaseIndex {
		return 0
	}
	return i - BaseIndex
}

// termAt is the term of the node's entry at the library's index i, 0 at the base snapshot.
func (n *node) termAt(i uint64) uint64 {
	if i <= BaseIndex {
		return 0
	}
	t, err := n.storage.Term(i)
	if err != nil {
		return 0
	}
	return t
}

// specTerm is a message's term of the entry at index i as the spec has it (0 at the base snapshot).
func specTerm(i, term uint64) uint64 {
	if i <= BaseIndex {
		return 0
	}
	return term
}

// entryValue is a log entry as the spec's [term, value]: the client's operation, or "NoOp".
func entryValue(e pb.Entry) map[string]any {
	var value any = "NoOp"
	if len(e.Data) > 0 {
		var p proposal
		if json.Unmarshal(e.Data, &p) == nil {
			value = p.Value
		} else {
			value = encodeEntry(e)
		}
	}
	return map[string]any{"term": e.Term, "value": value}
}

// specOf maps a message node n sends to Raft.tla's record (RaftEtcd.tla's Heartbeat for a
// MsgHeartbeat), or nil for a type the spec has none for.
func (n *node) specOf(m pb.Message) map[string]any {
	out := map[string]any{"mterm": m.Term, "msource": n.c.names[m.From-1], "mdest": n.c.names[m.To-1]}
	switch m.Type {
	case pb.MsgVote:
		out["mtype"] = "RequestVoteRequest"
		out["mlastLogIndex"] = specIndex(m.Index)
		out["mlastLogTerm"] = specTerm(m.Index, m.LogTerm)
	case pb.MsgVoteResp:
		out["mtype"] = "RequestVoteResponse"
		out["mvoteGranted"] = !m.Reject
	case pb.MsgPreVote:
		out["mtype"] = "PreVoteRequest"
		out["mlastLogIndex"] = specIndex(m.Index)
		out["mlastLogTerm"] = specTerm(m.Index, m.LogTerm)
	case pb.MsgPreVoteResp: // a grant echoes the requested term, a refusal is the refuser's
		out["mtype"] = "PreVoteResponse"
		out["mvoteGranted"] = !m.Reject
	case pb.MsgApp:
		entries := make([]any, len(m.Entries))
		for k, e := range m.Entries {
			entries[k] = entryValue(e)
		}
		out["mtype"] = "AppendEntriesRequest"
		out["mprevLogIndex"] = specIndex(m.Index)
		out["mprevLogTerm"] = specTerm(m.Index, m.LogTerm)
		out["mentries"] = entries
		out["mcommitIndex"] = specIndex(m.Commit)
		out["mreadSeq"] = 0
	case pb.MsgHeartbeat:
		// the empty request at min(Match, committed), the index the message carries
		out["mtype"] = "AppendEntriesRequest"
		out["mprevLogIndex"] = specIndex(m.Commit)
		out["mprevLogTerm"] = n.termAt(m.Commit)
		out["mentries"] = []any{}
		out["mcommitIndex"] = specIndex(m.Commit)
		out["mreadSeq"] = 0
	case pb.MsgAppResp, pb.MsgHeartbeatResp:
		out["mtype"] = "AppendEntriesResponse"
		out["mreadSeq"] = 0
		out["msuccess"] = !m.Reject
		out["mmatchIndex"] = specIndex(m.Index)
		out["mconflictTerm"] = 0
		out["mconflictIndex"] = 0
		if stale := n.answering; stale != nil && stale.Term < m.Term &&
			(stale.Type == pb.MsgApp || stale.Type == pb.MsgHeartbeat) {
			// an older term's request, answered with the newer term (with pre-vote or
			// check-quorum): Raft.tla's refusal, no match, no hint
			out["msuccess"] = false
			out["mmatchIndex"] = 0
		} else if m.Type == pb.MsgHeartbeatResp {
			// the answer to the heartbeat this event handles: a success at its index
			if n.answering == nil || n.answering.Type != pb.MsgHeartbeat {
				return nil
			}
			out["mmatchIndex"] = specIndex(n.answering.Commit)
		} else if m.Reject {
			// Raft.tla's hint, from the log that refused: the term at the request's previous
			// index and the first index of that term, or, past the log, its end
			out["mmatchIndex"] = 0
			last, _ := n.storage.LastIndex()
			if m.Index > last {
				out["mconflictIndex"] = specIndex(last) + 1
			} else {
				t := n.termAt(m.Index)
				first := m.Index
				for first > BaseIndex && n.termAt(first-1) == t {
					first--
				}
				out["mconflictTerm"] = t
				out["mconflictIndex"] = specIndex(first)
			}
		}
	default:
		return nil
	}
	return out
}

// sent names a send for the wire: the library's bytes in base64 and, after a "|", the send's
// number in the run, so that its receipt, or the receipt of a copy the network made, finds the
// spec message it was mapped to when it left. Two sends of the same bytes may map to two spec
// messages: the library's MsgHeartbeatResp does not say which heartbeat it answers.
func (c *cluster) sent(encoded string, message map[string]any) string {
	c.sends++
	tagged := fmt.Sprintf("%s|%d", encoded, c.sends)
	if message != nil {
		c.spec[tagged] = message
	}
	return tagged
}

// received is the spec message of a send (as sent names it), or nil for none.
func (c *cluster) received(tagged string) map[string]any {
	return c.spec[tagged]
}

var isRequest = map[pb.MessageType]bool{pb.MsgVote: true, pb.MsgApp: true, pb.MsgHeartbeat: true}
var isResponse = map[pb.MessageType]bool{
	pb.MsgVoteResp: true, pb.MsgPreVoteResp: true, pb.MsgAppResp: true, pb.MsgHeartbeatResp: true,
}

// handlerOf names the spec action by which node n, as it was (was), took m (the spec's message
// `spec`, nil when unknown): Raft.tla's handler, or RaftEtcd.tla's where the library's choice is
// another.
func (n *node) handlerOf(m pb.Message, spec map[string]any, was before) string {
	now := n.rn.Status()
	answered := n.answered(m)
	switch {
	case (m.Type == pb.MsgApp || m.Type == pb.MsgHeartbeat) && m.Term < was.term && answered:
		return "HandleAppendEntriesRequest" // with pre-vote or check-quorum: Raft.tla's answer
	case isRequest[m.Type] && m.Term < was.term:
		return "IgnoreStaleRequest"
	case (m.Type == pb.MsgVote || m.Type == pb.MsgPreVote) && m.Term > was.term && !answered:
		return "IgnoreVoteRequestInLease"
	case m.Type == pb.MsgPreVote:
		return "HandlePreVoteRequestEtcd"
	case m.Type == pb.MsgPreVoteResp && m.Reject && m.Term > was.term:
		return "HandlePreVoteResponseNewerTerm"
	case m.Type == pb.MsgPreVoteResp && m.Reject && m.Term == was.term &&
		was.role == raft.StatePreCandidate && now.RaftState == raft.StateFollower:
		return "HandlePreVoteResponseLost"
	case m.Type == pb.MsgPreVoteResp:
		return "HandlePreVoteResponse"
	case m.Type == pb.MsgVote:
		if n.refused(m) && m.Term == was.term && was.vote == raft.None && was.lead != raft.None {
			return "HandleRequestVoteRequestLeaderKnown"
		}
		return "HandleRequestVoteRequest"
	case m.Type == pb.MsgVoteResp:
		if m.Term == was.term && was.role == raft.StateCandidate && now.RaftState == raft.StateFollower {
			return "HandleRequestVoteResponseLost"
		}
		return "HandleRequestVoteResponse"
	case m.Type == pb.MsgApp:
		if m.Index < was.commit {
			return "HandleAppendEntriesRequestBelowCommit"
		}
		return "HandleAppendEntriesRequest"
	case m.Type == pb.MsgHeartbeat:
		return "HandleAppendEntriesRequest"
	case m.Type == pb.MsgAppResp && (m.Reject || spec != nil && spec["msuccess"] == false) &&
		m.Term == was.term && was.role == raft.StateLeader:
		// a rejection; or the answer to an older term's request, a refusal in the spec, which
		// the library takes as a success at index 0 and so changes nothing
		return "HandleAppendEntriesResponseBackOff"
	case m.Type == pb.MsgAppResp || m.Type == pb.MsgHeartbeatResp:
		return "HandleAppendEntriesResponse"
	}
	return ""
}

// sentAny: whether this event sent a message of type t.
func (n *node) sentAny(t pb.MessageType) bool {
	for _, s := range n.sent {
		if s.Type == t {
			return true
		}
	}
	return false
}

// answered: whether this event sent m's sender an answer.
func (n *node) answered(m pb.Message) bool {
	for _, s := range n.sent {
		if isResponse[s.Type] && s.To == m.From {
			return true
		}
	}
	return false
}

// refused: whether this event's answer to vote request m was a refusal.
func (n *node) refused(m pb.Message) bool {
	for _, s := range n.sent {
		if s.Type == pb.MsgVoteResp && s.To == m.From {
			return s.Reject
		}
	}
	return false
}

// specSteps writes the event's spec steps into d: `first` (the event's own action, "" for none;
// a step outside the spec unless inSpec) owning the answer to `source` and, for a Timeout, its
// vote requests; then one step per other send (AppendEntries, or PipelineAppendEntries in
// StateReplicate; Heartbeat).
func (n *node) specSteps(d *done, first string, inSpec bool, params map[string]any, message map[string]any, source string) {
	progress := n.rn.Status().Progress
	var own []int
	type later struct {
		action string
		to     string
		send   int
	}
	var rest []later
	answered := false
	for k, m := range n.sent {
		to := n.c.names[m.To-1]
		switch {
		case first != "" && !answered && isResponse[m.Type] && to == source:
			own = append(own, k)
			answered = true
		case (first == "Timeout" || first == "HandlePreVoteResponse") && m.Type == pb.MsgVote:
			own = append(own, k) // Campaign's requests, in the step that campaigns
		case first == "PreVoteTimeout" && m.Type == pb.MsgPreVote:
			own = append(own, k)
		case m.Type == pb.MsgHeartbeat:
			rest = append(rest, later{"Heartbeat", to, k})
		case m.Type == pb.MsgApp:
			action := "AppendEntries"
			if len(m.Entries) > 0 && progress[m.To].State == tracker.StateReplicate {
				action = "PipelineAppendEntries"
			}
			rest = append(rest, later{action, to, k})
		default:
			own = append(own, k) // none the library sends here: left with the event's action
		}
	}
	if first != "" {
		step := map[string]any{"action": first, "params": params, "sends": nonNil(own), "in_spec": inSpec}
		if message != nil {
			step["message"] = message
		}
		d.Steps = append(d.Steps, step)
	}
	for _, l := range rest {
		step := map[string]any{
			"action": l.action, "params": map[string]any{"i": n.name, "j": l.to}, "sends": []int{l.send},
		}
		if sent := n.c.received(d.Sends[l.send]["message"].(string)); sent != nil {
			step["message"] = sent
		}
		d.Steps = append(d.Steps, step)
	}
}

func nonNil(k []int) []int {
	if k == nil {
		return []int{}
	}
	return k
}
