package main

import (
	"context"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/domicile/domicile/client"
)

const consentsExamples = `  domicile consents give --region cn-north --subject cust-1 --destination DE --purpose support --evidence consent-form-2026-0042
  domicile consents list --region cn-north --subject cust-1
  domicile consents withdraw --region cn-north --subject cust-1 cns_2yq3ojzqv6rfhrzsutkqxwl4ka`

func runConsents(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintf(e.stdout, `Usage: domicile consents give|withdraw|list [flags]

A transfer rule of the policy with basis consent lets a subject's fields
leave its region in clear only while the subject's separate consent (PIPL
art. 39, GDPR art. 49(1)(a)) covers the reader's location, the reader and
the purpose. Consents live in the region of the subject's data; a
withdrawal holds from the next request on every node, and erasing the
subject deletes its consents. Evidence is a reference to the signed consent
(a document id), never the document.

Examples:
%s
`, consentsExamples)
		if len(args) == 0 {
			return &exitError{code: 2, silent: true}
		}
		return nil
	}
	switch args[0] {
	case "give":
		return consentsGive(ctx, e, args[1:])
	case "withdraw":
		return consentsWithdraw(ctx, e, args[1:])
	case "list":
		return consentsList(ctx, e, args[1:])
	}
	return usageErrorf("consents: unknown subcommand %q", args[0]).withHint("run 'domicile consents --help'")
}

func consentsGive(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "consents give", "domicile consents give --region NAME --subject ID --destination CC --purpose P --evidence REF [--recipient PRINCIPAL]", consentsExamples)
	af := addAPIFlags(fs)
	region := fs.String("region", "", "the region of the subject's data (required)")
	subject := fs.String("subject", "", "the subject (required)")
	var req client.ConsentRequest
	fs.StringVar(&req.Destination, "destination", "", "where the data may go: an ISO 3166-1 alpha-2 code, EU, EEA or * (required)")
	fs.StringVar(&req.Evidence, "evidence", "", "where the signed consent is kept, such as the form's document id (required)")
	fs.StringVar(&req.Recipient, "recipient", "", "only this principal may receive the data (default: any)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	req.Purpose = af.purpose // the purpose consented to (--purpose)
	if req.Purpose == "" {
		req.Purpose = e.getenv("DOMICILE_PURPOSE")
	}
	if *region == "" || *subject == "" || req.Destination == "" || req.Purpose == "" || req.Evidence == "" {
		return usageErrorf("consents give: --region, --subject, --destination, --purpose and --evidence are required").withHint("run 'domicile consents --help' for examples")
	}
	c, err := af.connect(e, "consents give")
	if err != nil {
		return err
	}
	out, err := c.c.GiveConsent(ctx, *region, *subject, req)
	if err != nil {
		return c.failed(ctx, "", err)
	}
	fmt.Fprintf(e.stdout, "%s: consent of %s to transfers to %s for %s recorded in %s\n", out.ID, *subject, out.Destination, out.Purpose, *region)
	return nil
}

func consentsWithdraw(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "consents withdraw", "domicile consents withdraw --region NAME --subject ID CONSENT-ID", consentsExamples)
	af := addAPIFlags(fs)
	region := fs.String("region", "", "the region of the subject's data (required)")
	subject := fs.String("subject", "", "the subject (required)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *region == "" || *subject == "" || fs.NArg() != 1 {
		return usageErrorf("consents withdraw: give --region, --subject and one consent id").withHint("'domicile consents list' shows the ids")
	}
	c, err := af.connect(e, "consents withdraw")
	if err != nil {
		return err
	}
	out, err := c.c.WithdrawConsent(ctx, *region, *subject, fs.Arg(0))
	if err != nil {
		return c.failed(ctx, "", err)
	}
	fmt.Fprintf(e.stdout, "%s: withdrawn at %s; from the next request, on every node, it allows nothing\n", out.ID, out.Withdrawn.UTC().Format(time.RFC3339))
	return nil
}

func consentsList(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "consents list", "domicile consents list --region NAME --subject ID", consentsExamples)
	af := addAPIFlags(fs)
	region := fs.String("region", "", "the region of the subject's data (required)")
	subject := fs.String("subject", "", "the subject (required)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *region == "" || *subject == "" {
		return usageErrorf("consents list: --region and --subject are required").withHint("run 'domicile consents --help' for examples")
	}
	c, err := af.connect(e, "consents list")
	if err != nil {
		return err
	}
	out, err := c.c.Consents(ctx, *region, *subject)
	if err != nil {
		return c.failed(ctx, "", err)
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tDESTINATION\tRECIPIENT\tPURPOSE\tEVIDENCE\tGIVEN\tWITHDRAWN")
	for _, c := range out.Consents {
		w := "-"
		if c.Withdrawn != nil {
			w = c.Withdrawn.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", c.ID, c.Destination, dash(c.Recipient), c.Purpose, c.Evidence, c.Given.UTC().Format(time.RFC3339), w)
	}
	return tw.Flush()
}
