#!/usr/bin/perl
# An ESME written with Net::SMPP, for interop tests of our server mode: it
# binds as a transceiver, submits a subscriber's message with a receipt
# request, then reads deliver_sm PDUs (the receipt, and messages we send to
# subscribers) and answers them, printing one line per event.
use strict;
use warnings;
use Net::SMPP;
$| = 1;

my ($port, $system_id, $password, $text, $expect_mt) = @ARGV;
alarm 60;
my $smpp = Net::SMPP->new_transceiver('127.0.0.1', port => $port, system_id => $system_id, password => $password)
  or die "bind failed: $!";
print "BOUND\n";
my $resp = $smpp->submit_sm(source_addr => '221770000077', source_addr_ton => 1, destination_addr => '384',
                            data_coding => 0, registered_delivery => 1, short_message => $text) or die "submit: $!";
print "SUBMIT_RESP status=$resp->{status} id=$resp->{message_id}\n";
my ($receipts, $mts) = (0, 0);
while ($receipts < 1 || $mts < $expect_mt) {
  my $pdu = $smpp->read_pdu() or die "read: $!";
  if ($pdu->{cmd} == Net::SMPP::CMD_deliver_sm) {
    $smpp->deliver_sm_resp(seq => $pdu->{seq}, message_id => "");
    if ($pdu->{esm_class} & 0x04) {
      $receipts++;
      print "RECEIPT $pdu->{short_message}\n";
    } else {
      $mts++;
      print "MT to=$pdu->{destination_addr} text=$pdu->{short_message}\n";
    }
  } elsif ($pdu->{cmd} == Net::SMPP::CMD_enquire_link) {
    $smpp->enquire_link_resp(seq => $pdu->{seq});
  }
}
$smpp->unbind();
print "DONE\n";
