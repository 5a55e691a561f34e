package store

import (
	"context"
	"errors"
	"fmt"
)

// MultiGetter is implemented by backends that read many keys at once for
// less than one Get each (one iterator reused by Pebble, one round trip to
// PostgreSQL). Callers use the GetMany function, which falls back to Get.
type MultiGetter interface {
	// GetMany returns, for each key, its value (non-nil, possibly empty)
	// or nil if the key does not exist. It fails as Get does for a
	// cancelled ctx or a closed store; it does not fail for a missing key.
	GetMany(ctx context.Context, keys [][]byte) ([][]byte, error)
}

// GetMany reads keys from st: out[i] is the value of keys[i] (non-nil,
// possibly empty) or nil if keys[i] does not exist. It uses st's own
// GetMany if st is a MultiGetter and Get otherwise.
func GetMany(ctx context.Context, st Store, keys [][]byte) ([][]byte, error) {
	if m, ok := st.(MultiGetter); ok {
		return m.GetMany(ctx, keys)
	}
	out := make([][]byte, len(keys))
	for i, k := range keys {
		v, err := st.Get(ctx, k)
		switch {
		case errors.Is(err, ErrNotFound):
		case err != nil:
			return nil, fmt.Errorf("store: get many: %w", err)
		default:
			if v == nil {
				v = []byte{}
			}
			out[i] = v
		}
	}
	return out, nil
}
