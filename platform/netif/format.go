package netif

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// Format writes ifs as a table for people (flowcamd --list-interfaces):
//
//	NAME   STATE       TYPE      MTU    ADDRESSES
//	lo     up          loopback  65536  127.0.0.1/8, ::1/128
//	wlan0  no-carrier  wireless  1500   -
//
// STATE is up, down (administratively) or no-carrier (up without a link);
// TYPE is loopback, wireless or wired (anything else, including virtual
// interfaces). Write errors are ignored: the table is best effort output.
func Format(w io.Writer, ifs []Interface) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSTATE\tTYPE\tMTU\tADDRESSES")
	for _, i := range ifs {
		addrs := "-"
		if len(i.Addrs) > 0 {
			s := make([]string, len(i.Addrs))
			for k, p := range i.Addrs {
				s[k] = p.String()
			}
			addrs = strings.Join(s, ", ")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\n", i.Name, state(i), kind(i), i.MTU, addrs)
	}
	tw.Flush()
}

func state(i Interface) string {
	switch {
	case !i.Up:
		return "down"
	case !i.Running:
		return "no-carrier"
	}
	return "up"
}

func kind(i Interface) string {
	switch {
	case i.Loopback:
		return "loopback"
	case i.Wireless:
		return "wireless"
	}
	return "wired"
}
