package client_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/domicile/domicile/client"
)

// Store a customer of a Chinese jurisdiction, read the record back and find
// it by e-mail address.
func Example() {
	c, err := client.New(client.DefaultAddress, os.Getenv("DOMICILE_TOKEN"))
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	out, err := c.Create(ctx, []client.NewRecord{{
		Collection:   "customers",
		Subject:      "cust-8841",
		Jurisdiction: "CN",
		Fields:       map[string]string{"name": "王伟", "email": "wang.wei@example.cn"},
	}}, "signup-cust-8841")
	if err != nil {
		log.Fatal(err)
	}
	id := out.Records[0].ID
	fmt.Println("stored", id, "in", out.Records[0].Region)

	rec, err := c.Get(ctx, id)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(rec.Fields["name"])

	page, err := c.Search(ctx, "customers", client.SearchRequest{Field: "email", Value: "wang.wei@example.cn"})
	if err != nil {
		log.Fatal(err)
	}
	for _, r := range page.Records {
		fmt.Println(r.ID, r.Region)
	}
}

// Branch on the stable problem code of an API error.
func ExampleCodeOf() {
	c, err := client.New(client.DefaultAddress, os.Getenv("DOMICILE_TOKEN"))
	if err != nil {
		log.Fatal(err)
	}
	_, err = c.Get(context.Background(), "rec_cn-north_0000000000000000")
	switch client.CodeOf(err) {
	case "":
		if err != nil {
			log.Fatal(err) // not an API answer: the server could not be reached
		}
	case "not_found", "subject_erased":
		fmt.Println("gone")
	default:
		log.Fatal(err)
	}
}
