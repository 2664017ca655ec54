#!/usr/bin/perl
# An SMSC written with Net::SMPP (Debian's libnet-smpp-perl), for interop
# tests of our client mode. It accepts one bind, sends one mobile-originated
# message, answers every submit_sm with a decimal message id and a delivery
# receipt, and prints what it saw, one line per event, for the test to read.
use strict;
use warnings;
use Net::SMPP;
$| = 1;

my ($port, $system_id, $password, $mo_text) = @ARGV;
alarm 60;
my $listener = Net::SMPP->new_listen('127.0.0.1', port => $port, async => 1) or die "listen: $!";
print "LISTENING $port\n";
my $smpp = $listener->accept() or die "accept: $!";
my $next_id = 5000;
my $mo_sent = 0;

while (1) {
  my $pdu = $smpp->read_pdu() or last;
  my $cmd = $pdu->{cmd};
  if ($cmd == Net::SMPP::CMD_bind_transceiver) {
    my $ok = ($pdu->{system_id} eq $system_id && $pdu->{password} eq $password);
    $smpp->bind_transceiver_resp(seq => $pdu->{seq}, status => ($ok ? 0 : 0x0d), system_id => 'perlsmsc');
    print $ok ? "BOUND $pdu->{system_id}\n" : "BIND_REFUSED\n";
    next unless $ok;
    $smpp->deliver_sm(source_addr => '254712345678', source_addr_ton => 1, destination_addr => '384',
                      data_coding => 0, short_message => $mo_text, async => 1);
    $mo_sent = 1;
  } elsif ($cmd == Net::SMPP::CMD_deliver_sm_resp) {
    print "DELIVER_RESP status=$pdu->{status}\n";
  } elsif ($cmd == Net::SMPP::CMD_submit_sm) {
    my $id = $next_id++;
    $smpp->submit_sm_resp(seq => $pdu->{seq}, message_id => "$id");
    print "SUBMIT to=$pdu->{destination_addr} dc=$pdu->{data_coding} hex=" . unpack('H*', $pdu->{short_message}) . "\n";
    if ($pdu->{registered_delivery} & 1) {
      my $text = "id:$id sub:001 dlvrd:001 submit date:2611211030 done date:2611211031 stat:DELIVRD err:000 text:";
      $smpp->deliver_sm(source_addr => $pdu->{destination_addr}, destination_addr => $pdu->{source_addr},
                        esm_class => 0x04, short_message => $text, async => 1);
      print "RECEIPT_SENT $id\n";
    }
  } elsif ($cmd == Net::SMPP::CMD_enquire_link) {
    $smpp->enquire_link_resp(seq => $pdu->{seq});
  } elsif ($cmd == Net::SMPP::CMD_unbind) {
    $smpp->unbind_resp(seq => $pdu->{seq});
    print "UNBOUND\n";
    last;
  } else {
    printf "OTHER cmd=0x%08x\n", $cmd;
  }
}
print "DONE\n";
