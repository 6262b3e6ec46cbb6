// Package lab holds the middlebox lab: lab.sh reproduces hanging TCP
// connections with the real Linux TCP stack, in network namespaces joined
// through a conntrack router that forgets idle flows, and captures them
// with tcpdump into testdata/pcaps/lab. The package itself has no code;
// its tests run the analyzer on those captures and compare its findings
// with testdata/pcaps/lab/EXPECT.tsv. See README.md.
package lab
