package api

import "github.com/domicile/domicile/client"

// The wire types of the seal routes (seal.go), documented in the OpenAPI
// document like every other.
func init() {
	wireTypes["UnsealRequest"] = client.UnsealRequest{}
	wireTypes["SealStatus"] = client.SealStatus{}
}
