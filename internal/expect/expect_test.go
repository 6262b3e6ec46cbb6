package expect

import (
	"os"
	"path/filepath"
	"testing"
)

func TestReadAndMismatch(t *testing.T) {
	dir := t.TempDir()
	manifest := "files\targs\tkinds\tflagged_flows\tkeepalives\tnote\n" +
		"a.pcap b.pcap\t--idle 5s\tsilent-past-timeout,reset-after-idle\t1\t2\tsplit capture\n" +
		"c.pcap\t\t-\t0\t0\tclean\n"
	path := filepath.Join(dir, "EXPECT.tsv")
	if err := os.WriteFile(path, []byte(manifest), 0o644); err != nil {
		t.Fatal(err)
	}
	rows, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || len(rows[0].Files) != 2 || rows[0].Files[1] != filepath.Join(dir, "b.pcap") || rows[0].Kinds[0] != "reset-after-idle" {
		t.Fatalf("rows = %+v", rows)
	}
	report := []byte(`{"flows":[{"keepalive":{"client":{"probes":2},"server":{"probes":0}},
		"findings":[{"kind":"silent-past-timeout"},{"kind":"reset-after-idle"}]},{"findings":[]}]}`)
	o, err := Summarize(report)
	if err != nil {
		t.Fatal(err)
	}
	if m := rows[0].Mismatch(o); m != "" {
		t.Errorf("row 1 should match: %s", m)
	}
	if m := rows[1].Mismatch(o); m == "" {
		t.Error("row 2 should not match a report with findings")
	}
	if _, err := Summarize([]byte("not json")); err == nil {
		t.Error("Summarize accepted text that is not JSON")
	}
}

func TestReadRejectsBadRows(t *testing.T) {
	for name, body := range map[string]string{
		"missing column": "files\targs\tkinds\tnote\na.pcap\t\t-\tx\n",
		"short row":      "files\targs\tkinds\tflagged_flows\tnote\na.pcap\t\t-\n",
		"bad count":      "files\targs\tkinds\tflagged_flows\tnote\na.pcap\t\t-\tmany\tx\n",
		"no rows":        "files\targs\tkinds\tflagged_flows\tnote\n",
	} {
		path := filepath.Join(t.TempDir(), "EXPECT.tsv")
		os.WriteFile(path, []byte(body), 0o644)
		if _, err := Read(path); err == nil {
			t.Errorf("%s: Read succeeded", name)
		}
	}
}
