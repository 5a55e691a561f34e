package ff1

import (
	"crypto/cipher"
	"math/big"
)

// refFF1 is a second, deliberately naive FF1 written line by line from
// NIST SP 800-38G Rev. 1, Algorithms 7 (FF1.Encrypt) and 8 (FF1.Decrypt):
// big.Int for every NUM and STR, a fresh Q and a full CBC-MAC in every round,
// []int numerals, and no domain checks. It shares no code with the package.
// It is proven on the AES vectors (TestReferenceNIST, TestReferenceWycheproof)
// before it is used to check the package over SM4.
func refFF1(ciph cipher.Block, radix int, T []byte, X []int, decrypt bool) []int {
	n := len(X)
	// 1. u = floor(n/2); v = n - u.
	u := n / 2
	v := n - u
	// 2. A = X[1..u]; B = X[u+1..n].
	A := append([]int{}, X[:u]...)
	B := append([]int{}, X[u:]...)
	// 3. b = ceil(ceil(v*log2(radix))/8). ceil(v*log2(radix)) is the least
	// k with 2^k >= radix^v.
	radixV := refPow(radix, v)
	k := 0
	for new(big.Int).Lsh(big.NewInt(1), uint(k)).Cmp(radixV) < 0 {
		k++
	}
	b := (k + 7) / 8
	// 4. d = 4*ceil(b/4) + 4.
	d := 4*((b+3)/4) + 4
	// 5. P = [1]^1 || [2]^1 || [1]^1 || [radix]^3 || [10]^1 ||
	//        [u mod 256]^1 || [n]^4 || [t]^4.
	t := len(T)
	P := []byte{1, 2, 1}
	P = append(P, refBytes(big.NewInt(int64(radix)), 3)...)
	P = append(P, 10, byte(u%256))
	P = append(P, refBytes(big.NewInt(int64(n)), 4)...)
	P = append(P, refBytes(big.NewInt(int64(t)), 4)...)

	// 6. Ten rounds; decryption runs them backwards with A and B swapped.
	for r := 0; r < 10; r++ {
		i := r
		if decrypt {
			i = 9 - r
		}
		// i. Q = T || [0]^((-t-b-1) mod 16) || [i]^1 || [NUM_radix(B)]^b
		// (decryption: NUM_radix(A)).
		in := B
		if decrypt {
			in = A
		}
		pad := ((-t-b-1)%16 + 16) % 16
		Q := append([]byte{}, T...)
		Q = append(Q, make([]byte, pad)...)
		Q = append(Q, byte(i))
		Q = append(Q, refBytes(refNum(in, radix), b)...)
		// ii. R = PRF(P || Q).
		R := refPRF(ciph, append(append([]byte{}, P...), Q...))
		// iii. S = first d bytes of R || CIPH(R xor [1]^16) || ...
		S := append([]byte{}, R...)
		for j := 1; j <= (d+15)/16-1; j++ {
			x := make([]byte, 16)
			jb := refBytes(big.NewInt(int64(j)), 16)
			for l := range x {
				x[l] = R[l] ^ jb[l]
			}
			S = append(S, refCIPH(ciph, x)...)
		}
		S = S[:d]
		// iv. y = NUM(S).
		y := new(big.Int).SetBytes(S)
		// v. m = u if i is even, else v.
		m := v
		if i%2 == 0 {
			m = u
		}
		// vi. c = (NUM_radix(A) + y) mod radix^m
		// (decryption: (NUM_radix(B) - y) mod radix^m).
		c := new(big.Int)
		if decrypt {
			c.Sub(refNum(B, radix), y)
		} else {
			c.Add(refNum(A, radix), y)
		}
		c.Mod(c, refPow(radix, m))
		// vii. C = STR^m_radix(c); viii, ix: shift.
		C := refStr(c, radix, m)
		if decrypt {
			B = A
			A = C
		} else {
			A = B
			B = C
		}
	}
	// 7. Return A || B.
	return append(A, B...)
}

func refPow(radix, e int) *big.Int {
	return new(big.Int).Exp(big.NewInt(int64(radix)), big.NewInt(int64(e)), nil)
}

// refNum is NUM_radix(X): the integer whose radix-radix digits, most
// significant first, are X.
func refNum(X []int, radix int) *big.Int {
	x := new(big.Int)
	for _, d := range X {
		x.Mul(x, big.NewInt(int64(radix)))
		x.Add(x, big.NewInt(int64(d)))
	}
	return x
}

// refStr is STR^m_radix(x).
func refStr(x *big.Int, radix, m int) []int {
	X := make([]int, m)
	x = new(big.Int).Set(x)
	r := new(big.Int)
	for i := m - 1; i >= 0; i-- {
		x.QuoRem(x, big.NewInt(int64(radix)), r)
		X[i] = int(r.Int64())
	}
	return X
}

// refBytes is [x]^s: x as an s-byte big-endian string.
func refBytes(x *big.Int, s int) []byte {
	out := make([]byte, s)
	return x.FillBytes(out)
}

func refCIPH(ciph cipher.Block, x []byte) []byte {
	out := make([]byte, 16)
	ciph.Encrypt(out, x)
	return out
}

// refPRF is Algorithm 6: CBC-MAC with a zero IV.
func refPRF(ciph cipher.Block, X []byte) []byte {
	Y := make([]byte, 16)
	for j := 0; j < len(X)/16; j++ {
		in := make([]byte, 16)
		for l := range in {
			in[l] = Y[l] ^ X[16*j+l]
		}
		Y = refCIPH(ciph, in)
	}
	return Y
}
