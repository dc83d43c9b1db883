import std.stdio;

void main()
{
    writeln(undefined_name);
}
