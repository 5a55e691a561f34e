package backup

import (
	"archive/tar"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"

	"github.com/domicile/domicile/internal/suite"
)

// The stream of a backup, from a node to the CLI, is a tar: every file of
// the store as "store/NAME" in ascending name order, then the signed
// manifest as ManifestFile, last. A stream cut short has no manifest.

// List returns the regular files of a store copy in dir, by name, with
// their sizes (hashes empty), and their total size.
//
// Errors: anything but a regular file in dir; the file system's.
func List(dir string) ([]File, int64, error) {
	des, err := os.ReadDir(dir)
	if err != nil {
		return nil, 0, fmt.Errorf("backup: %w", err)
	}
	var out []File
	var total int64
	for _, de := range des {
		if !de.Type().IsRegular() {
			return nil, 0, fmt.Errorf("backup: %s in the store copy is not a regular file", de.Name())
		}
		fi, err := de.Info()
		if err != nil {
			return nil, 0, fmt.Errorf("backup: %w", err)
		}
		out = append(out, File{Name: de.Name(), Size: fi.Size()})
		total += fi.Size()
	}
	slices.SortFunc(out, func(a, b File) int {
		switch {
		case a.Name < b.Name:
			return -1
		case a.Name > b.Name:
			return 1
		}
		return 0
	})
	return out, total, nil
}

// Write streams the store copy in dir to w: every file, hashed with h as
// it is written, then the bytes that sign returns for the files (the
// signed manifest file). The copy must not change meanwhile (a checkpoint
// does not). An error can only cut the stream short.
//
// Errors: ctx's, the file system's, w's and sign's, wrapped.
func Write(ctx context.Context, w io.Writer, dir string, h suite.Hash, sign func(files []File) ([]byte, error)) error {
	files, _, err := List(dir)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(w)
	for i := range files {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("backup: %w", err)
		}
		sum, err := writeFile(tw, filepath.Join(dir, files[i].Name), StoreDir+"/"+files[i].Name, files[i].Size, h)
		if err != nil {
			return err
		}
		files[i].Hash = hex.EncodeToString(sum)
	}
	m, err := sign(files)
	if err != nil {
		return fmt.Errorf("backup: signing the manifest: %w", err)
	}
	if err := tw.WriteHeader(&tar.Header{Name: ManifestFile, Mode: 0o600, Size: int64(len(m)), Typeflag: tar.TypeReg}); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	if _, err := tw.Write(m); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	return nil
}

func writeFile(tw *tar.Writer, src, name string, size int64, h suite.Hash) ([]byte, error) {
	f, err := os.Open(src)
	if err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	defer f.Close()
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o600, Size: size, Typeflag: tar.TypeReg}); err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	hh := h.New()
	if _, err := io.CopyN(io.MultiWriter(tw, hh), f, size); err != nil {
		return nil, fmt.Errorf("backup: %s: %w", name, err)
	}
	return hh.Sum(nil), nil
}

// Receive reads a stream that Write wrote into dir, a new or empty
// directory: the store's files into dir/StoreDir, the manifest into
// dir/ManifestFile, written last. It then checks every file against the
// manifest (VerifyFiles) with the hash of the manifest's suite; the
// signature is checked at restore, where the region's keys are at hand.
// progress, if not nil, is called with the bytes received so far.
//
// Errors: wrap ErrInvalid for a stream cut short (no manifest), an entry
// that is not a plain file of the store, and a file that differs from
// the manifest; the file system's otherwise. On error the files written
// stay for inspection; the directory holds no manifest unless it arrived.
func Receive(ctx context.Context, r io.Reader, dir string, progress func(n int64)) (*Signed, error) {
	if err := newDir(dir); err != nil {
		return nil, err
	}
	storeDir := filepath.Join(dir, StoreDir)
	if err := os.Mkdir(storeDir, 0o700); err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	tr := tar.NewReader(r)
	var got int64
	for {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("backup: %w", err)
		}
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil, invalidf("the stream ended before the manifest: the backup was cut short")
		}
		if err != nil {
			return nil, invalidf("the stream was cut short or is not a backup: %v", err)
		}
		if hdr.Typeflag != tar.TypeReg || hdr.Size < 0 {
			return nil, invalidf("entry %q is not a plain file", hdr.Name)
		}
		if hdr.Name == ManifestFile {
			if hdr.Size > maxManifest {
				return nil, invalidf("the manifest is %d bytes, at most %d", hdr.Size, maxManifest)
			}
			raw, err := io.ReadAll(tr)
			if err != nil {
				return nil, invalidf("the manifest was cut short: %v", err)
			}
			if _, err := tr.Next(); !errors.Is(err, io.EOF) {
				return nil, invalidf("the stream goes on after the manifest")
			}
			s, err := ParseSigned(raw)
			if err != nil {
				return nil, err
			}
			st, err := suite.ByID(suite.ID(s.Manifest.Suite))
			if err != nil {
				return nil, invalidf("the manifest names suite %q: %v", s.Manifest.Suite, err)
			}
			if err := VerifyFiles(dir, s.Manifest, st.Hash()); err != nil {
				return nil, err
			}
			if err := writeSynced(filepath.Join(dir, ManifestFile), raw); err != nil {
				return nil, err
			}
			return s, nil
		}
		name, ok := cutPrefix(hdr.Name, StoreDir+"/")
		if !ok {
			return nil, invalidf("entry %q is not a file of the store", hdr.Name)
		}
		if err := checkName(name); err != nil {
			return nil, err
		}
		n, err := receiveFile(filepath.Join(storeDir, name), tr, progress, got)
		got += n
		if err != nil {
			return nil, err
		}
	}
}

func cutPrefix(s, prefix string) (string, bool) {
	if len(s) <= len(prefix) || s[:len(prefix)] != prefix {
		return "", false
	}
	return s[len(prefix):], true
}

// receiveFile writes one file of the stream, calling progress as it goes.
func receiveFile(path string, r io.Reader, progress func(int64), before int64) (int64, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return 0, fmt.Errorf("backup: %w", err)
	}
	var n int64
	buf := make([]byte, 1<<20)
	for {
		k, rerr := r.Read(buf)
		if k > 0 {
			if _, err := f.Write(buf[:k]); err != nil {
				f.Close()
				return n, fmt.Errorf("backup: %w", err)
			}
			n += int64(k)
			if progress != nil {
				progress(before + n)
			}
		}
		if errors.Is(rerr, io.EOF) {
			break
		}
		if rerr != nil {
			f.Close()
			return n, invalidf("the stream was cut short in %s: %v", filepath.Base(path), rerr)
		}
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return n, fmt.Errorf("backup: %w", err)
	}
	if err := f.Close(); err != nil {
		return n, fmt.Errorf("backup: %w", err)
	}
	return n, nil
}

// newDir makes dir, or accepts it when it exists and is empty.
func newDir(dir string) error {
	des, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("backup: %w", err)
		}
		return nil
	case err != nil:
		return fmt.Errorf("backup: %w", err)
	case len(des) > 0:
		return fmt.Errorf("backup: %s is not empty; give a new directory", dir)
	}
	return nil
}

func writeSynced(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return fmt.Errorf("backup: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("backup: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	return nil
}
