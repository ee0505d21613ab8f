package hub

import "strings"

// MaxIDLength is the longest device or module id.
const MaxIDLength = 128

// ValidID reports whether id is a valid device or module id: 1 to 128
// characters, each a letter, a digit or one of - : . + % _ # * ? ! ( ) , = @ ; $ '.
func ValidID(id string) bool {
	if id == "" || len(id) > MaxIDLength {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			strings.IndexByte("-:.+%_#*?!(),=@;$'", c) >= 0 {
			continue
		}
		return false
	}
	return true
}
