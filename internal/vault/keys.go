package vault

import "encoding/binary"

// Store keys of the vault. Collection and field names are validated by the
// policy (no "/"), record ids by RegionOfID; MACs and subject refs are
// fixed-length.
func recordKey(id string) []byte { return append([]byte("r/"), id...) }

func subjectPrefix(ref []byte) []byte {
	k := make([]byte, 0, 3+len(ref))
	k = append(k, "s/"...)
	k = append(k, ref...)
	return append(k, '/')
}

func subjectKey(ref []byte, id string) []byte { return append(subjectPrefix(ref), id...) }

func indexPrefix(collection, field string, version uint32, mac []byte) []byte {
	k := make([]byte, 0, 8+len(collection)+len(field)+len(mac)+40)
	k = append(k, "i/"...)
	k = append(k, collection...)
	k = append(k, '/')
	k = append(k, field...)
	k = append(k, '/')
	k = binary.BigEndian.AppendUint32(k, version)
	k = append(k, '/')
	k = append(k, mac...)
	return append(k, '/')
}

// indexFieldPrefix is the prefix of every index key of one field of one
// collection, any version.
func indexFieldPrefix(collection, field string) []byte {
	return []byte("i/" + collection + "/" + field + "/")
}

func countKey(collection string) []byte { return []byte("n/" + collection) }

func idemKey(h []byte) []byte { return append([]byte("d/"), h...) }

// idFromIndexKey returns the record id at the end of a subject or index key.
func idFromKey(k, prefix []byte) string { return string(k[len(prefix):]) }
