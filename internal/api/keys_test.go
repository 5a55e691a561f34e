package api

import "github.com/domicile/domicile/client"

// The wire types of the key life-cycle routes (keys.go), documented in
// the OpenAPI document like every other.
func init() {
	for name, v := range map[string]any{
		"RewrapRequest":      client.RewrapRequest{},
		"MigrateRequest":     client.MigrateRequest{},
		"RewrapJob":          client.RewrapJob{},
		"KeyVersionUsage":    client.KeyVersionUsage{},
		"KeyUsage":           client.KeyUsage{},
		"KeyVersionRequest":  client.KeyVersionRequest{},
		"KeyVersionResponse": client.KeyVersionResponse{},
	} {
		wireTypes[name] = v
	}
}
