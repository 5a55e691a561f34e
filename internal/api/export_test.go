package api

import "testing"

func TestRegionParamFits(t *testing.T) {
	for _, c := range []struct {
		name  string
		names []string
		want  bool
	}{
		{"ok/none", nil, true},
		{"ok/own", []string{"cn-north"}, true},
		{"ok/own-among-others", []string{"eu-central", "cn-north"}, true},
		{"fail/another", []string{"eu-central"}, false},
		{"fail/empty-name", []string{""}, false},
	} {
		if got := regionParamFits(c.names, "cn-north"); got != c.want {
			t.Errorf("%s: regionParamFits(%q) = %v, want %v", c.name, c.names, got, c.want)
		}
	}
}
