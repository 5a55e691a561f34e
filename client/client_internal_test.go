package client

import (
	"net/http"
	"testing"
)

func TestDefaultTransport(t *testing.T) {
	c, err := New(DefaultAddress, "t")
	if err != nil {
		t.Fatal(err)
	}
	tr, ok := c.hc.Transport.(*http.Transport)
	if !ok {
		t.Fatalf("transport %T, want *http.Transport", c.hc.Transport)
	}
	if tr.MaxIdleConnsPerHost < 64 {
		t.Errorf("MaxIdleConnsPerHost = %d, want at least 64", tr.MaxIdleConnsPerHost)
	}
	if tr.MaxIdleConns != 0 && tr.MaxIdleConns < tr.MaxIdleConnsPerHost {
		t.Errorf("MaxIdleConns = %d, below MaxIdleConnsPerHost", tr.MaxIdleConns)
	}
	if tr == http.DefaultTransport {
		t.Error("the client changed http.DefaultTransport")
	}
	if d := http.DefaultTransport.(*http.Transport).MaxIdleConnsPerHost; d >= 64 {
		t.Errorf("http.DefaultTransport.MaxIdleConnsPerHost = %d: changed?", d)
	}
}
