package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// cluster is the nodes `hello` named, each with its raft ID (its position, from 1).
type cluster struct {
	names []string
	ids   map[string]uint64
	nodes map[string]*node
	bugs  map[string]bool
	// the library's Config.PreVote and Config.CheckQuorum
	preVote, checkQuorum bool
	spec                 map[string]map[string]any // a send (its bytes and number) -> its spec message (spec.go)
	sends                int                       // sends so far
}

type driver struct {
	c                    *cluster
	bugs                 map[string]bool
	preVote, checkQuorum bool // the library's options (main.go's flags)
}

func newDriver() *driver { return &driver{} }

// handle answers one request line (docs/driver-protocol.md, "Requests").
func (d *driver) handle(line []byte) map[string]any {
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	var req map[string]any
	if err := dec.Decode(&req); err != nil {
		return refuse("not a JSON object: %v", err)
	}
	call, _ := req["call"].(string)
	if call == "hello" {
		return d.hello(req)
	}
	if d.c == nil {
		return refuse("%s before hello", call)
	}
	name, _ := req["node"].(string)
	if _, known := d.c.ids[name]; !known {
		return refuse("%s.node: %q is not a node of this cluster (%s)", call, name, strings.Join(d.c.names, ", "))
	}
	if call == "boot" {
		persisted, _ := req["persisted"].(map[string]any)
		seed, err := number(req["seed"])
		if err != nil {
			return refuse("boot.seed: %v", err)
		}
		n, err := d.c.bootNode(name, persisted, seed)
		if err != nil {
			return refuse("boot of %s: %v", name, err)
		}
		d.c.nodes[name] = n
		return answer(n.boot(len(persisted) > 0))
	}
	n := d.c.nodes[name]
	if n == nil {
		return refuse("%s.node: %s was never booted", call, name)
	}
	switch call {
	case "fire":
		timer, _ := req["timer"].(string)
		return answer(n.fire(timer))
	case "deliver":
		source, _ := req["source"].(string)
		if _, known := d.c.ids[source]; !known {
			return refuse("deliver.source: %q is not a node", source)
		}
		return answer(n.deliver(source, req["message"]))
	case "submit":
		request, err := number(req["request"])
		if err != nil {
			return refuse("submit.request: %v", err)
		}
		read, _ := req["read"].(bool)
		return answer(n.submit(request, req["value"], read))
	case "take":
		return map[string]any{"took": false, "done": map[string]any{}}
	case "state":
		return map[string]any{"state": n.state()}
	case "applied":
		return map[string]any{"count": n.machine.applied, "digest": n.machine.digest()}
	}
	return refuse("no call %q (hello, boot, deliver, fire, submit, take, state, applied)", call)
}

func (d *driver) hello(req map[string]any) map[string]any {
	listed, _ := req["nodes"].([]any)
	if len(listed) == 0 {
		return refuse("hello.nodes: a non-empty list of node names")
	}
	c := &cluster{ids: map[string]uint64{}, nodes: map[string]*node{}, bugs: d.bugs, spec: map[string]map[string]any{},
		preVote: d.preVote, checkQuorum: d.checkQuorum}
	for _, v := range listed {
		name, isName := v.(string)
		if !isName || name == "" {
			return refuse("hello.nodes: %v is not a node name", v)
		}
		if _, twice := c.ids[name]; twice {
			return refuse("hello.nodes: %s twice", name)
		}
		c.names = append(c.names, name)
		c.ids[name] = uint64(len(c.names))
	}
	d.c = c
	return map[string]any{"driver": "etcd-raft", "protocol": 1, "take": false}
}

func number(v any) (int64, error) {
	n, isNumber := v.(json.Number)
	if !isNumber {
		return 0, fmt.Errorf("%v is not a whole number", v)
	}
	return n.Int64()
}

func refuse(format string, args ...any) map[string]any {
	return map[string]any{"error": fmt.Sprintf(format, args...)}
}

func answer(did *done, err error) map[string]any {
	if err != nil {
		return refuse("%v", err)
	}
	return map[string]any{"done": did}
}
