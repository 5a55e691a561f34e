// Package examples embeds the example files, so that the binary runs with
// the example policy when no policy file is given.
package examples

import _ "embed"

// Policy is examples/policy.yaml.
//
//go:embed policy.yaml
var Policy []byte
