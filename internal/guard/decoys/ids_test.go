package decoys

import (
	"strconv"
	"testing"
)

// TestCheckDigits holds each check-digit algorithm to a number published
// as a sample by its issuer or in the standard's literature.
func TestCheckDigits(t *testing.T) {
	tests := []struct {
		name, number, got, want string
	}{
		{"ok/cn-resident-id", "11010519491231002X", string(mod11_2("11010519491231002")), "X"}, // GB 11643-1999 annex
		{"ok/de-steuer-id", "86095742719", string(mod11_10("8609574271")), "9"},                // BZSt sample
		{"ok/fr-nir", "295109912611193", nirKey("2951099126111"), "93"},
		{"ok/br-cpf", "390.533.447-05", cpfChecks("390533447"), "05"},
		{"ok/jp-my-number", "123456789018", strconv.Itoa(myNumberCheck("12345678901")), "8"},
		{"ok/it-codice-fiscale", "RSSMRA85T10A562S", string(itCheck("RSSMRA85T10A562")), "S"},
		{"ok/es-dni", "12345678Z", string(dniLetter(12345678)), "Z"},
		{"ok/pl-pesel", "44051401359", strconv.Itoa(peselCheck("4405140135")), "9"},
		{"ok/ca-sin", "046 454 286", string(luhn("04645428")), "6"}, // Service Canada sample
		{"ok/se-personnummer", "811228-9874", string(luhn("811228987")), "4"},
		{"ok/mx-curp", "HEGG560427MVZRRL04", strconv.Itoa(curpCheck("HEGG560427MVZRRL0")), "4"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s: %s: check %q, want %q", tt.name, tt.number, tt.got, tt.want)
		}
	}
	if c, ok := bsnCheck("11122233"); !ok || c != 3 {
		t.Errorf("ok/nl-bsn: 111222333: check %d, %v, want 3", c, ok)
	}
}
