// Package client is the Go client of the Domicile /v1 API, and the home of
// its wire types, which the server and the gateway use too.
//
// Domicile keeps each customer's personal data in the region its
// jurisdiction maps to. A client talks to the gateway (or, for one region,
// to that region's node) with a bearer token:
//
//	c, err := client.New(os.Getenv("DOMICILE_ADDR"), os.Getenv("DOMICILE_TOKEN"))
//	if err != nil {
//		return err
//	}
//	out, err := c.Create(ctx, []client.NewRecord{{
//		Collection:   "customers",
//		Subject:      "cust-8841",
//		Jurisdiction: "CN",
//		Fields:       map[string]string{"name": "王伟", "email": "wang.wei@example.cn"},
//	}}, "order-8841-signup")
//	if err != nil {
//		return err
//	}
//	fmt.Println(out.Records[0].ID, out.Records[0].Region) // rec_cn-north_... cn-north
//
// Every answer that is not 2xx is an *Error holding the server's problem
// document; its Code is stable and documented, so programs branch on it,
// most simply with CodeOf:
//
//	rec, err := c.Get(ctx, id)
//	switch code := client.CodeOf(err); {
//	case err == nil:
//		fmt.Println(rec.Fields["name"])
//	case code == "not_found", code == "subject_erased":
//		// gone: deleted, or the subject was erased
//	default:
//		return err // another problem, or the server could not be reached
//	}
//
// A Client is safe for concurrent use, and should be made once and reused:
// its transport keeps DefaultMaxIdleConnsPerHost keep-alive connections per
// host, and every response body is read to its end and closed so that they
// are reused. It sets no timeout of its own; give each call a context with
// a deadline, or pass an http.Client with WithHTTPClient.
package client
