package seed

import (
	"strconv"
	"strings"

	"golang.org/x/text/unicode/norm"
)

// domains returns the mail domains used for a jurisdiction. All are reserved
// by RFC 2606: example.com/.net/.org, their subdomains and the .example TLD.
func domains(jurisdiction string) []string {
	cc := strings.ToLower(jurisdiction)
	return []string{
		"example.com", "example.com", "example.net", "example.org",
		"mail.example.com", cc + ".example.com",
		cc + ".example", "mail." + cc + ".example",
	}
}

// email returns an ASCII address derived from the person's romanised name or
// a random handle. About one address in seven has upper-case letters, to
// exercise case-insensitive search.
func (g *Generator) email(jurisdiction string, who identity) string {
	given, family := asciiFold(who.given), asciiFold(who.family)
	var local string
	switch {
	case jurisdiction == "CN" && g.chance(6):
		// QQ-style numeric mailbox.
		local = strconv.Itoa(g.between(10_000_000, 1_999_999_999))
	case given == "" || family == "" || g.chance(8):
		local = g.handle()
	default:
		switch g.rng.IntN(7) {
		case 0, 1:
			local = given + "." + family
		case 2:
			local = given[:1] + family
		case 3:
			local = given + family + pad(g.between(1, 99), 2)
		case 4:
			local = family + "." + given
		case 5:
			local = given + "_" + family + strconv.Itoa(g.between(1, 999))
		default:
			local = family + given[:1] + strconv.Itoa(g.between(1, 99))
		}
	}
	domain := pick(g, domains(jurisdiction))
	switch g.rng.IntN(14) {
	case 0:
		local = titleParts(local)
	case 1:
		local, domain = strings.ToUpper(local), titleParts(domain)
	}
	return local + "@" + domain
}

// handle returns a pronounceable random handle such as "kobalu42".
func (g *Generator) handle() string {
	const consonants, vowels = "bdfghklmnprstvz", "aeiou"
	var b strings.Builder
	for range g.between(2, 4) {
		b.WriteByte(consonants[g.rng.IntN(len(consonants))])
		b.WriteByte(vowels[g.rng.IntN(len(vowels))])
	}
	b.WriteString(strconv.Itoa(g.between(1, 99)))
	return b.String()
}

// titleParts upper-cases the first letter of s and every letter after '.',
// '_' or '-'.
func titleParts(s string) string {
	b := []byte(s)
	up := true
	for i, c := range b {
		if up && 'a' <= c && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
		up = c == '.' || c == '_' || c == '-'
	}
	return string(b)
}

// asciiFold lower-cases s and reduces it to [a-z0-9-] for an e-mail local
// part: Cyrillic is transliterated, other letters lose their diacritics
// (Müller -> muller, Łukasz -> lukasz, Straße -> strasse), and spaces and
// apostrophes disappear (van den Berg -> vandenberg, D'Angelo -> dangelo).
func asciiFold(s string) string {
	var mapped strings.Builder
	for _, r := range s {
		if rep, ok := foldSpecial[r]; ok {
			mapped.WriteString(rep)
		} else {
			mapped.WriteRune(r)
		}
	}
	var b strings.Builder
	for _, r := range norm.NFD.String(mapped.String()) {
		switch {
		case 'a' <= r && r <= 'z', '0' <= r && r <= '9':
			b.WriteRune(r)
		case 'A' <= r && r <= 'Z':
			b.WriteRune(r - 'A' + 'a')
		case r == '-':
			if b.Len() > 0 && !strings.HasSuffix(b.String(), "-") {
				b.WriteRune(r)
			}
		}
	}
	return strings.TrimSuffix(b.String(), "-")
}

// foldSpecial maps letters that NFD does not decompose to ASCII, and
// transliterates Russian Cyrillic (a simplified BGN/PCGN scheme). It is
// applied before NFD so that й and ё are not split into и/е plus a mark.
var foldSpecial = map[rune]string{
	'ß': "ss", 'ł': "l", 'Ł': "L", 'ø': "o", 'Ø': "O", 'æ': "ae", 'Æ': "Ae",
	'œ': "oe", 'Œ': "Oe", 'đ': "d", 'Đ': "D", 'ı': "i",
	'а': "a", 'б': "b", 'в': "v", 'г': "g", 'д': "d", 'е': "e", 'ё': "e",
	'ж': "zh", 'з': "z", 'и': "i", 'й': "y", 'к': "k", 'л': "l", 'м': "m",
	'н': "n", 'о': "o", 'п': "p", 'р': "r", 'с': "s", 'т': "t", 'у': "u",
	'ф': "f", 'х': "kh", 'ц': "ts", 'ч': "ch", 'ш': "sh", 'щ': "shch",
	'ъ': "", 'ы': "y", 'ь': "", 'э': "e", 'ю': "yu", 'я': "ya",
	'А': "A", 'Б': "B", 'В': "V", 'Г': "G", 'Д': "D", 'Е': "E", 'Ё': "E",
	'Ж': "Zh", 'З': "Z", 'И': "I", 'Й': "Y", 'К': "K", 'Л': "L", 'М': "M",
	'Н': "N", 'О': "O", 'П': "P", 'Р': "R", 'С': "S", 'Т': "T", 'У': "U",
	'Ф': "F", 'Х': "Kh", 'Ц': "Ts", 'Ч': "Ch", 'Ш': "Sh", 'Щ': "Shch",
	'Ъ': "", 'Ы': "Y", 'Ь': "", 'Э': "E", 'Ю': "Yu", 'Я': "Ya",
}
