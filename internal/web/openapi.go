package web

import (
	_ "embed"
	"net/http"
)

//go:embed openapi.json
var openapiJSON []byte

// ServeOpenAPI serves the OpenAPI 3.1 document of the /v1 API.
func ServeOpenAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Write(openapiJSON)
}
