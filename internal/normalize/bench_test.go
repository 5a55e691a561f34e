package normalize

import "testing"

// BenchmarkPhone compares NormalizePhone with the parser alone, on numbers
// in international form (the shortcut) and in national form (the parser).
//
//	go test ./internal/normalize -run '^$' -bench Phone
func BenchmarkPhone(b *testing.B) {
	for _, in := range []struct{ name, s, j string }{
		{"international", "+86 138 0013 8000", ""},
		{"international-compact", "+12025550143", ""},
		{"national", "138 0013 8000", "CN"},
	} {
		b.Run("normalize/"+in.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := NormalizePhone(in.s, in.j); err != nil {
					b.Fatal(err)
				}
			}
		})
		if in.j == "" {
			b.Run("parser/"+in.name, func(b *testing.B) {
				for b.Loop() {
					if _, ok := libNormalize(in.s); !ok {
						b.Fatal("invalid")
					}
				}
			})
		}
	}
}
