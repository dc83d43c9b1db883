-module(main).
-export([main/0]).

main() ->
    undefined_name().
