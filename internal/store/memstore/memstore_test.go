package memstore_test

import (
	"testing"

	"github.com/domicile/domicile/internal/store"
	"github.com/domicile/domicile/internal/store/memstore"
	"github.com/domicile/domicile/internal/store/storetest"
)

// The test double keeps the contract every backend keeps.
func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return memstore.New() })
}
