package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
)

// machine is the state machine every node applies its committed entries to: the part of
// meshcheck's replicated state machine (impl/rsm/machine.py) the simulator's Raft workload uses,
// with the same results, so that the clients' history is checked against the same model.
//
//   - {"op": "Custom", "key": K, "value": V} sets K to V (no value: deletes K), and answers
//     {"ok": true, "key": K, "existed": whether K was set};
//   - the leader's empty entry is the no-op: {"ok": true, "noop": true};
//   - a read "" answers how many entries were applied, a read ["custom", K] K's value (or
//     {"ok": false, "error": "no custom K"});
//   - any other operation counts as applied and answers an error, as the Python machine does for
//     a value it cannot read.
type machine struct {
	applied int
	custom  map[string]any
}

func newMachine() *machine { return &machine{custom: map[string]any{}} }

func ok(fields map[string]any) map[string]any {
	out := map[string]any{"ok": true}
	for k, v := range fields {
		out[k] = v
	}
	return out
}

func failed(message string) map[string]any {
	return map[string]any{"ok": false, "error": message}
}

// apply applies one operation (nil: the no-op) and answers its result.
func (m *machine) apply(op any) map[string]any {
	m.applied++
	if op == nil {
		return ok(map[string]any{"noop": true})
	}
	record, isRecord := op.(map[string]any)
	if !isRecord || record["op"] != "Custom" {
		return failed(fmt.Sprintf("not an operation this driver's machine applies: %v", op))
	}
	key, isKey := record["key"].(string)
	if !isKey {
		return failed("Custom without a key")
	}
	_, existed := m.custom[key]
	if value, given := record["value"]; given && value != nil {
		m.custom[key] = value
	} else {
		delete(m.custom, key)
	}
	return ok(map[string]any{"key": key, "existed": existed})
}

// read answers a query without changing anything.
func (m *machine) read(query any) map[string]any {
	if query == "" {
		return ok(map[string]any{"value": m.applied})
	}
	pair, isPair := query.([]any)
	if !isPair || len(pair) != 2 || pair[0] != "custom" {
		return failed(fmt.Sprintf("bad query %v: use \"\" or [\"custom\", key]", query))
	}
	key, _ := pair[1].(string)
	value, found := m.custom[key]
	if !found {
		return failed("no custom " + key)
	}
	return ok(map[string]any{"value": value})
}

// digest is a digest of the whole state: equal states, equal digests.
func (m *machine) digest() string {
	keys := make([]string, 0, len(m.custom))
	for k := range m.custom {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	pairs := make([][2]any, 0, len(keys))
	for _, k := range keys {
		pairs = append(pairs, [2]any{k, m.custom[k]})
	}
	encoded, _ := json.Marshal(map[string]any{"applied": m.applied, "custom": pairs})
	sum := sha256.Sum256(encoded)
	return hex.EncodeToString(sum[:])
}
