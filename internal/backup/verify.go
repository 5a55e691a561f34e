package backup

import (
	"bytes"
	"crypto"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/domicile/domicile/internal/signed"
	"github.com/domicile/domicile/internal/suite"
)

// Open reads the signed manifest of the backup in dir, without checking
// its signature or files.
//
// Errors: wrap ErrInvalid for a missing or malformed manifest.
func Open(dir string) (*Signed, error) {
	raw, err := os.ReadFile(filepath.Join(dir, ManifestFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, invalidf("%s has no %s: it is no backup, or its backup was cut short", dir, ManifestFile)
	}
	if err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	return ParseSigned(raw)
}

// Hash returns the hex of the suite hash h of the manifest file's bytes:
// the backup's name in the audit entry of its restore.
func (s *Signed) Hash(h suite.Hash) string { return hex.EncodeToString(h.Sum(s.Raw)) }

// VerifySignature checks the manifest's signature with the key among keys
// (the region's audit keys under origin, of sig) that it names.
//
// Errors: wrap ErrInvalid.
func (s *Signed) VerifySignature(origin string, keys []crypto.PublicKey, sig suite.Signature, h suite.Hash) error {
	if err := signed.Verify(Kind, s.Envelope, origin, keys, sig, h); err != nil {
		return fmt.Errorf("%w: the manifest: %v", ErrInvalid, err)
	}
	return nil
}

// VerifyFiles checks that dir/StoreDir holds exactly the files m lists,
// each of its size and hash under h.
//
// Errors: wrap ErrInvalid, naming the first file that differs.
func VerifyFiles(dir string, m *Manifest, h suite.Hash) error {
	return eachFile(dir, m, h, nil)
}

// CopyStore copies the store's files of the backup in dir into dst, a new
// or empty directory, checking each copy against m (size and hash under h)
// as it is written, so that what lands in dst is what the manifest lists;
// every file is synced. progress, if not nil, is called with the bytes
// copied so far.
//
// Errors: wrap ErrInvalid for a file that differs from m; the file
// system's otherwise. On error dst may hold part of the files.
func CopyStore(dir, dst string, m *Manifest, h suite.Hash, progress func(n int64)) error {
	if err := newDir(dst); err != nil {
		return err
	}
	var done int64
	err := eachFile(dir, m, h, func(f File, r io.Reader) (io.Writer, func() error, error) {
		out, err := os.OpenFile(filepath.Join(dst, f.Name), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return nil, nil, fmt.Errorf("backup: %w", err)
		}
		pw := &progressWriter{w: out, done: &done, progress: progress}
		return pw, func() error {
			if err := out.Sync(); err != nil {
				out.Close()
				return fmt.Errorf("backup: %w", err)
			}
			return out.Close()
		}, nil
	})
	if err != nil {
		return err
	}
	d, err := os.Open(dst)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	return nil
}

type progressWriter struct {
	w        io.Writer
	done     *int64
	progress func(int64)
}

func (p *progressWriter) Write(b []byte) (int, error) {
	n, err := p.w.Write(b)
	*p.done += int64(n)
	if p.progress != nil {
		p.progress(*p.done)
	}
	return n, err
}

// eachFile checks the files of dir/StoreDir against m; with sink, each
// file's bytes also go to the writer sink returns, whose finish is called
// after the file was read whole.
func eachFile(dir string, m *Manifest, h suite.Hash, sink func(File, io.Reader) (io.Writer, func() error, error)) error {
	storeDir := filepath.Join(dir, StoreDir)
	have, _, err := List(storeDir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return invalidf("%s has no %s directory", dir, StoreDir)
		}
		return invalidf("%v", err)
	}
	listed := map[string]bool{}
	for _, f := range m.Files {
		listed[f.Name] = true
	}
	for _, f := range have {
		if !listed[f.Name] {
			return invalidf("file %s is not in the manifest (added after the backup)", f.Name)
		}
	}
	if len(have) != len(m.Files) {
		for _, f := range m.Files {
			if _, err := os.Lstat(filepath.Join(storeDir, f.Name)); err != nil {
				return invalidf("file %s of the manifest is missing", f.Name)
			}
		}
	}
	for _, f := range m.Files {
		if err := checkFile(storeDir, f, h, sink); err != nil {
			return err
		}
	}
	return nil
}

func checkFile(storeDir string, f File, h suite.Hash, sink func(File, io.Reader) (io.Writer, func() error, error)) error {
	in, err := os.Open(filepath.Join(storeDir, f.Name))
	if errors.Is(err, os.ErrNotExist) {
		return invalidf("file %s of the manifest is missing", f.Name)
	}
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	defer in.Close()
	hh := h.New()
	var w io.Writer = hh
	finish := func() error { return nil }
	if sink != nil {
		out, fin, err := sink(f, in)
		if err != nil {
			return err
		}
		w, finish = io.MultiWriter(hh, out), fin
	}
	// Read one byte more than listed, to see a file that grew.
	n, err := io.Copy(w, io.LimitReader(in, f.Size+1))
	if ferr := finish(); err == nil {
		err = ferr
	}
	if err != nil {
		return fmt.Errorf("backup: %s: %w", f.Name, err)
	}
	if n != f.Size {
		return invalidf("file %s is %d bytes, the manifest says %d (truncated or edited)", f.Name, n, f.Size)
	}
	want, _ := hex.DecodeString(f.Hash)
	if !bytes.Equal(hh.Sum(nil), want) {
		return invalidf("file %s does not match its hash in the manifest (edited)", f.Name)
	}
	return nil
}
