package envelope_test

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"

	"github.com/domicile/domicile/internal/envelope"
	"github.com/domicile/domicile/internal/suite"
)

// ExampleOpen decrypts the committed golden envelopes, one or more per
// suite. If a change to the format breaks stored data, this output changes.
func ExampleOpen() {
	data, err := os.ReadFile("testdata/golden.json")
	if err != nil {
		fmt.Println(err)
		return
	}
	var g struct {
		Vectors []struct {
			Suite    suite.ID
			Key      string
			Binding  envelope.Binding
			Envelope string
		}
	}
	if err := json.Unmarshal(data, &g); err != nil {
		fmt.Println(err)
		return
	}
	for _, v := range g.Vectors {
		s, err := suite.ByID(v.Suite)
		if err != nil {
			fmt.Println(err)
			return
		}
		key, _ := hex.DecodeString(v.Key)
		aead, err := s.AEAD().New(key)
		if err != nil {
			fmt.Println(err)
			return
		}
		env, _ := hex.DecodeString(v.Envelope)
		h, ct, err := envelope.Parse(env)
		if err != nil {
			fmt.Println(err)
			return
		}
		pt, err := envelope.Open(aead, h, ct, v.Binding)
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("%s v%d %s/%s: %q\n", h.Suite, h.KeyVersion, v.Binding.Region, v.Binding.Field, pt)
	}
	// Output:
	// cn v1 cn-north/email: "张伟 <zhang.wei@example.cn>"
	// cn v300 cn-north/nickname: ""
	// intl v1 eu-central/email: "Ada Lovelace <ada@example.org>"
	// intl v70000 eu-central/: "wrapped key material"
}
