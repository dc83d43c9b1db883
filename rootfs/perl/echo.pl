binmode STDIN;
binmode STDOUT;
local $/;
my $data = <STDIN>;
print $data if defined $data;
