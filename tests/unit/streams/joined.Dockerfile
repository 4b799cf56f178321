FROM busybox:1.36 AS slow
RUN echo 1795978106537377938 && sleep 4 && echo done > /slow
FROM slow AS after
RUN cat /slow
