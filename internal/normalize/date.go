package normalize

import (
	"strings"
	"time"
)

// NormalizeDate normalises a calendar date to YYYY-MM-DD. It accepts
// YYYY-MM-DD, YYYY/MM/DD and YYYYMMDD (with surrounding space), years 0001 to
// 9999, and rejects dates that do not exist, such as 2023-02-29.
func NormalizeDate(value, _ string) (string, error) {
	const kind = "date"
	s := strings.TrimSpace(value)
	var y, m, d string
	switch {
	case len(s) == 8:
		y, m, d = s[:4], s[4:6], s[6:]
	case len(s) == 10 && (s[4] == '-' || s[4] == '/') && s[7] == s[4]:
		y, m, d = s[:4], s[5:7], s[8:]
	default:
		return "", invalid(kind, "write it as YYYY-MM-DD")
	}
	year, ok1 := digits(y)
	month, ok2 := digits(m)
	day, ok3 := digits(d)
	if !ok1 || !ok2 || !ok3 {
		return "", invalid(kind, "write it as YYYY-MM-DD")
	}
	if year < 1 {
		return "", invalid(kind, "year 0000 does not exist")
	}
	if month < 1 || month > 12 {
		return "", invalid(kind, "month out of range")
	}
	t := time.Date(year, time.Month(month), day, 0, 0, 0, 0, time.UTC)
	if day < 1 || t.Day() != day {
		return "", invalid(kind, "day out of range for the month")
	}
	return t.Format(time.DateOnly), nil
}

// digits parses s as an unsigned decimal of ASCII digits.
func digits(s string) (int, bool) {
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + int(s[i]-'0')
	}
	return n, true
}
