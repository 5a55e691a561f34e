package normalize

import (
	"errors"
	"strings"
	"testing"
)

type testCase struct {
	name         string
	value        string
	jurisdiction string
	want         string // for ok/ cases
	wantErr      string // substring of the error, for fail/ cases
}

// run checks one normaliser against a table: ok/ cases give want, and give it
// again when normalised a second time; fail/ cases wrap ErrInvalid, say
// wantErr and never quote the value.
func run(t *testing.T, f Func, tests []testCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := f(tt.value, tt.jurisdiction)
			if strings.HasPrefix(tt.name, "ok/") {
				if err != nil {
					t.Fatalf("f(%q, %q): %v", tt.value, tt.jurisdiction, err)
				}
				if got != tt.want {
					t.Fatalf("f(%q, %q) = %q, want %q", tt.value, tt.jurisdiction, got, tt.want)
				}
				again, err := f(got, tt.jurisdiction)
				if err != nil || again != got {
					t.Fatalf("not idempotent: f(%q) = %q, %v", got, again, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("f(%q, %q) = %q, want an error", tt.value, tt.jurisdiction, got)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error %v does not wrap ErrInvalid", err)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %q does not say %q", err, tt.wantErr)
			}
			checkNoValue(t, err, tt.value)
		})
	}
}

// checkNoValue fails if err's message quotes value. Values shorter than 4
// bytes, and values of only ASCII letters, spaces and punctuation that
// occur in the messages' own wording ("YYYY", "empty"), are skipped: they
// could appear in a message by chance.
func checkNoValue(t testing.TB, err error, value string) {
	t.Helper()
	v := strings.TrimSpace(value)
	wordy := strings.Trim(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ -.,:;()") == ""
	if len(v) >= 4 && !wordy && strings.Contains(err.Error(), v) {
		t.Errorf("error message %q contains the value %q", err, v)
	}
}

func TestByName(t *testing.T) {
	for _, name := range Names() {
		if f, err := ByName(name); err != nil || f == nil {
			t.Errorf("ByName(%q) = %v, %v", name, f, err)
		}
	}
	for _, name := range []string{"", "Email", "ssn", "phone "} {
		if _, err := ByName(name); !errors.Is(err, ErrUnknown) {
			t.Errorf("ByName(%q) error = %v, want ErrUnknown", name, err)
		}
	}
}

func TestNone(t *testing.T) {
	run(t, NormalizeNone, []testCase{
		{name: "ok/unchanged", value: " Ana  María ", want: " Ana  María "},
		{name: "ok/empty", value: "", want: ""},
		{name: "ok/invalid-utf8", value: "\xff", want: "\xff"},
	})
}

func TestEmail(t *testing.T) {
	run(t, NormalizeEmail, []testCase{
		{name: "ok/lower", value: "ana@example.com", want: "ana@example.com"},
		{name: "ok/upper-local-and-domain", value: "Ana.Lopez@Example.COM", want: "ana.lopez@example.com"},
		{name: "ok/trim", value: "  ana@example.com\n", want: "ana@example.com"},
		{name: "ok/plus", value: "ana+news@example.com", want: "ana+news@example.com"},
		{name: "ok/nfc", value: "jose\u0301@example.es", want: "jos\u00e9@example.es"},
		{name: "ok/unicode-domain", value: "Wang@例子.中国", want: "wang@例子.中国"},
		{name: "ok/254-bytes", value: strings.Repeat("a", 64) + "@" + strings.Repeat("b", 189), want: strings.Repeat("a", 64) + "@" + strings.Repeat("b", 189)},
		{name: "fail/no-at", value: "ana.example.com", wantErr: "no @"},
		{name: "fail/two-ats", value: "ana@lopez@example.com", wantErr: "more than one @"},
		{name: "fail/empty-local", value: "@example.com", wantErr: "empty local part"},
		{name: "fail/empty-domain", value: "ana.lopez@", wantErr: "empty domain"},
		{name: "fail/inner-space", value: "ana lopez@example.com", wantErr: "space"},
		{name: "fail/empty", value: "", wantErr: "no @"},
		{name: "fail/too-long", value: strings.Repeat("a", 64) + "@" + strings.Repeat("b", 190), wantErr: "254"},
		{name: "fail/invalid-utf8", value: "ana\xff@example.com", wantErr: "UTF-8"},
		{name: "fail/control", value: "ana\x00@example.com", wantErr: "control"},
		{name: "fail/replacement-char-domain", value: "ana@exa\uFFFDmple.com", wantErr: "host name"},
		{name: "fail/empty-label", value: "ana@example..com", wantErr: "host name"},
		{name: "fail/underscore", value: "ana@ex_ample.com", wantErr: "host name"},
		{name: "fail/hyphen-edge", value: "ana@-example.com", wantErr: "host name"},
		{name: "ok/hyphen-inner", value: "ana@my-example.com", want: "ana@my-example.com"},
	})
}

func TestPhone(t *testing.T) {
	run(t, NormalizePhone, []testCase{
		{name: "ok/e164", value: "+12025550143", jurisdiction: "US", want: "+12025550143"},
		{name: "ok/us-international", value: "+1 (202) 555-0143", jurisdiction: "DE", want: "+12025550143"},
		{name: "ok/us-national-dots", value: "202.555.0143", jurisdiction: "US", want: "+12025550143"},
		{name: "ok/us-national-parens", value: "(202) 555-0143", jurisdiction: "US", want: "+12025550143"},
		{name: "ok/de-trunk-zero", value: "(0)30 1234567", jurisdiction: "DE", want: "+49301234567"},
		{name: "ok/de-national", value: "030 1234567", jurisdiction: "DE", want: "+49301234567"},
		{name: "ok/cn-mobile", value: "138 1234 5678", jurisdiction: "CN", want: "+8613812345678"},
		{name: "ok/cn-international", value: "+86 138-1234-5678", jurisdiction: "US", want: "+8613812345678"},
		{name: "ok/cn-00-prefix", value: "0086 138 1234 5678", jurisdiction: "DE", want: "+8613812345678"},
		{name: "ok/ru", value: "8 (912) 345-67-89", jurisdiction: "RU", want: "+79123456789"},
		{name: "ok/lower-case-jurisdiction", value: "138 1234 5678", jurisdiction: "cn", want: "+8613812345678"},
		{name: "ok/extension-dropped", value: "+1 202 555 0143 ext. 12", jurisdiction: "US", want: "+12025550143"},
		{name: "fail/no-region", value: "202 555 0143", jurisdiction: "", wantErr: "country code"},
		{name: "fail/letters", value: "call me maybe", jurisdiction: "US", wantErr: "not a phone number"},
		{name: "fail/empty", value: "  ", jurisdiction: "US", wantErr: "empty"},
		{name: "fail/too-short", value: "+1 555", jurisdiction: "US", wantErr: "not a"},
		{name: "fail/invalid-for-country", value: "+1 202 155 0143", jurisdiction: "US", wantErr: "not a valid number"},
		{name: "fail/cn-wrong-length", value: "138 1234 567", jurisdiction: "CN", wantErr: "not a valid number"},
		{name: "fail/too-long", value: "+" + strings.Repeat("1", 300), jurisdiction: "US", wantErr: "250"},
	})
}

func TestNationalID(t *testing.T) {
	run(t, NormalizeNationalID, []testCase{
		{name: "ok/cn-x-check", value: "11010519491231002X", jurisdiction: "CN", want: "11010519491231002X"},
		{name: "ok/cn-lower-x-and-spaces", value: "110105 19491231 002x", jurisdiction: "CN", want: "11010519491231002X"},
		{name: "ok/cn-digit-check", value: "440524188001010014", jurisdiction: "CN", want: "440524188001010014"},
		{name: "ok/us-ssn", value: "078-05-1120", jurisdiction: "US", want: "078051120"},
		{name: "ok/de-letters", value: "l01x00t47", jurisdiction: "DE", want: "L01X00T47"},
		{name: "ok/dots", value: "12.345.678", jurisdiction: "BR", want: "12345678"},
		{name: "ok/4-chars", value: "AB12", jurisdiction: "FR", want: "AB12"},
		{name: "ok/32-chars", value: strings.Repeat("9", 32), jurisdiction: "FR", want: strings.Repeat("9", 32)},
		{name: "fail/cn-bad-check", value: "110105194912310021", jurisdiction: "CN", wantErr: "check character"},
		{name: "fail/cn-short", value: "11010519491231002", jurisdiction: "CN", wantErr: "18 characters"},
		{name: "fail/cn-15-digit", value: "110105491231002", jurisdiction: "CN", wantErr: "18 characters"},
		{name: "fail/cn-letter-inside", value: "1101051949123100AX", jurisdiction: "CN", wantErr: "17 digits"},
		{name: "fail/too-short", value: "A-1-2", jurisdiction: "US", wantErr: "4 to 32"},
		{name: "fail/too-long", value: strings.Repeat("9", 33), jurisdiction: "US", wantErr: "4 to 32"},
		{name: "fail/symbol", value: "1234/5678", jurisdiction: "US", wantErr: "only digits"},
		{name: "fail/non-ascii", value: "1234ſ5678", jurisdiction: "US", wantErr: "only digits"},
		{name: "fail/empty", value: "", jurisdiction: "US", wantErr: "4 to 32"},
	})
}

func TestCNResidentIDCheck(t *testing.T) {
	for _, tt := range []struct {
		first17 string
		want    byte
	}{
		{"11010519491231002", 'X'}, // the example in GB 11643-1999
		{"44052418800101001", '4'}, // the example in GB 11643-1999
		{"00000000000000000", '1'},
	} {
		got, err := CNResidentIDCheck(tt.first17)
		if err != nil || got != tt.want {
			t.Errorf("CNResidentIDCheck(%q) = %q, %v, want %q", tt.first17, got, err, tt.want)
		}
	}
	for _, bad := range []string{"", "1101051949123100", "110105194912310021", "1101051949123100X"} {
		if _, err := CNResidentIDCheck(bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("CNResidentIDCheck(%q) error = %v, want ErrInvalid", bad, err)
		}
	}
}

func TestName(t *testing.T) {
	run(t, NormalizeName, []testCase{
		{name: "ok/case", value: "Ana María LÓPEZ", want: "ana maría lópez"},
		{name: "ok/whitespace", value: "  Ana \t  María\n López  ", want: "ana maría lópez"},
		{name: "ok/sharp-s", value: "STRASSE", want: "strasse"},
		{name: "ok/sharp-s-folds", value: "Straße", want: "strasse"},
		{name: "ok/decomposed", value: "Jose\u0301", want: "josé"},
		{name: "ok/fullwidth", value: "ＡＮＡ", want: "ana"},
		{name: "ok/ideographic-space", value: "王\u3000小明", want: "王 小明"},
		{name: "ok/cjk", value: "王小明", want: "王小明"},
		{name: "ok/greek-final-sigma", value: "ΟΔΥΣΣΕΥΣ", want: "οδυσσευσ"},
		{name: "fail/empty", value: "", wantErr: "empty"},
		{name: "fail/blank", value: " \t ", wantErr: "empty"},
		{name: "fail/invalid-utf8", value: "Ana\xffLopez", wantErr: "UTF-8"},
		{name: "fail/control", value: "Ana\x07Lopez", wantErr: "control"},
	})
}

func TestDate(t *testing.T) {
	run(t, NormalizeDate, []testCase{
		{name: "ok/iso", value: "1984-03-07", want: "1984-03-07"},
		{name: "ok/slashes", value: "1984/03/07", want: "1984-03-07"},
		{name: "ok/compact", value: "19840307", want: "1984-03-07"},
		{name: "ok/trim", value: " 1984-03-07 ", want: "1984-03-07"},
		{name: "ok/leap-day", value: "2000-02-29", want: "2000-02-29"},
		{name: "ok/year-1", value: "0001-01-01", want: "0001-01-01"},
		{name: "fail/not-leap", value: "1900-02-29", wantErr: "day out of range"},
		{name: "fail/april-31", value: "2023-04-31", wantErr: "day out of range"},
		{name: "fail/day-0", value: "2023-04-00", wantErr: "day out of range"},
		{name: "fail/month-13", value: "2023-13-01", wantErr: "month out of range"},
		{name: "fail/month-0", value: "20230001", wantErr: "month out of range"},
		{name: "fail/year-0", value: "0000-01-01", wantErr: "year 0000"},
		{name: "fail/mixed-separators", value: "2023-04/01", wantErr: "YYYY-MM-DD"},
		{name: "fail/dmy", value: "07.03.1984", wantErr: "YYYY-MM-DD"},
		{name: "fail/short-month", value: "2023-4-01", wantErr: "YYYY-MM-DD"},
		{name: "fail/sign", value: "+2023-4-1", wantErr: "YYYY-MM-DD"},
		{name: "fail/time", value: "2023-04-01T00:00:00Z", wantErr: "YYYY-MM-DD"},
		{name: "fail/empty", value: "", wantErr: "YYYY-MM-DD"},
	})
}
