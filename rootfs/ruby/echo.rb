$stdin.binmode
$stdout.binmode
$stdout.write($stdin.read)
