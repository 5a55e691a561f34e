package gateway

import (
	"errors"
	"net"
	"net/http"
	"net/url"
	"sync/atomic"
	"time"
)

// downFor is how long a failed node is skipped (it is still tried when
// every node of the region is down).
const downFor = 5 * time.Second

// backend is one region's nodes.
type backend struct {
	nodes     []*node
	transport http.RoundTripper
	next      atomic.Uint64
}

type node struct {
	url       *url.URL
	downUntil atomic.Int64 // unix nanoseconds
}

func newBackend(b Backend) *backend {
	out := &backend{transport: b.Transport}
	if out.transport == nil {
		out.transport = http.DefaultTransport
	}
	urls := b.URLs
	if len(urls) == 0 {
		urls = []*url.URL{b.URL}
	}
	for _, u := range urls {
		out.nodes = append(out.nodes, &node{url: u})
	}
	return out
}

// order returns the nodes to try: round robin, nodes marked down last.
func (b *backend) order() []*node {
	if len(b.nodes) == 1 {
		return b.nodes
	}
	start := int(b.next.Add(1))
	now := time.Now().UnixNano()
	var up, down []*node
	for i := range b.nodes {
		n := b.nodes[(start+i)%len(b.nodes)]
		if n.downUntil.Load() > now {
			down = append(down, n)
		} else {
			up = append(up, n)
		}
	}
	return append(up, down...)
}

func (n *node) markDown(now time.Time) { n.downUntil.Store(now.Add(downFor).UnixNano()) }
func (n *node) markUp()                { n.downUntil.Store(0) }

// retryable reports whether a failed request may go to another node: a
// refused connection sent nothing; otherwise only reads and idempotent
// writes are safe to repeat.
func retryable(method string, hdr http.Header, err error) bool {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	return method == http.MethodGet || method == http.MethodHead || hdr.Get("Idempotency-Key") != ""
}
